/* libtracefs + libtraceevent (Debian libtracefs-dev, libtraceevent-dev), found through pkg-config. */
#include <tracefs.h>
#include <event-parse.h>
