#ifndef ENCMON_CNCURSES_SHIM_H
#define ENCMON_CNCURSES_SHIM_H
/* Debian ships one curses.h; the wide API (cchar_t, setcchar) only appears with this define. */
#ifndef NCURSES_WIDECHAR
#define NCURSES_WIDECHAR 1
#endif
#include <ncursesw/curses.h>
#include <ncursesw/term.h>
#include <locale.h>
#include <langinfo.h>
#include <wchar.h>
#include <stdio.h>

/* C globals as functions: Swift 6 rejects reads of mutable globals. */
static inline WINDOW *cn_stdscr(void) { return stdscr; }
static inline int cn_LINES(void) { return LINES; }
static inline int cn_COLS(void) { return COLS; }
static inline FILE *cn_stdout(void) { return stdout; }
static inline FILE *cn_stdin(void) { return stdin; }

/* A_* are NCURSES_BITS() expressions, which Swift does not import. */
static const attr_t CN_A_NORMAL = A_NORMAL;
static const attr_t CN_A_BOLD = A_BOLD;
static const attr_t CN_A_DIM = A_DIM;
static const attr_t CN_A_REVERSE = A_REVERSE;
static const attr_t CN_A_UNDERLINE = A_UNDERLINE;
static const attr_t CN_A_STANDOUT = A_STANDOUT;
static const mmask_t CN_BUTTON1_CLICKED = BUTTON1_CLICKED;
static const mmask_t CN_BUTTON1_PRESSED = BUTTON1_PRESSED;
static const mmask_t CN_BUTTON4_PRESSED = BUTTON4_PRESSED;
static const mmask_t CN_BUTTON5_PRESSED = BUTTON5_PRESSED;

static inline void cn_getmaxyx(WINDOW *w, int *y, int *x) { getmaxyx(w, *y, *x); }

/* One cell: a wide character with attributes and a colour pair. */
static inline int cn_mvadd_wchar(WINDOW *w, int y, int x, wchar_t ch, attr_t a, short pair) {
  cchar_t cc; wchar_t s[2] = { ch, 0 };
  if (setcchar(&cc, s, a, pair, NULL) != OK) return ERR;
  return mvwadd_wch(w, y, x, &cc);
}

/* terminfo check that prints nothing and never exits (initscr exits on a bad TERM). */
static inline int cn_term_usable(int fd, int *err) {
  if (setupterm(NULL, fd, err) != OK) return 0;
  const char *cup = tigetstr("cup");
  int ok = cup != NULL && cup != (const char *)-1;
  del_curterm(cur_term);
  return ok;
}
#endif
