/* libtracecmd (Debian libtracecmd-dev): reads trace-cmd's trace.dat files. */
#include <trace-cmd.h>
