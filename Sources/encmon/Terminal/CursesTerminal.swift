import SystemLibc
import CNcurses
import MonitorView

/// What the full-screen terminal should do, from the command line and the environment.
struct TerminalSettings: Sendable {
    var mouse = true
    /// False for `--no-color` or a non-empty `NO_COLOR` (https://no-color.org).
    var color = true
    /// `--ascii`: no block, braille or line-drawing characters even in a UTF-8 locale.
    var asciiOnly = false
}

/// Why the full-screen terminal could not start; the session falls back to batch mode.
struct TerminalUnavailable: Error, CustomStringConvertible, Sendable {
    var reason: String
    var description: String { reason }
}

/// The only code that calls curses. It copies `CellGrid`s to the screen and turns curses key
/// codes into `Key`s. ncurses is not thread-safe: create, use and shut it down on one thread
/// (the class is deliberately not Sendable).
final class CursesTerminal {
    /// SCREEN* from `newterm`.
    private var screen: OpaquePointer?
    private let window: UnsafeMutablePointer<WINDOW>
    private var signals: SessionSignalHandlers
    let charset: Charset
    let color: Bool
    /// Colour pair per (foreground, background); pairs are created on first use.
    private var pairs: [ColorPairKey: Int16] = [:]
    private var nextPair: Int16 = 1
    private var pairsExhausted = false
    private var defaultColors = false
    private var isShutDown = false
    private var lastDrawnSize: (width: Int, height: Int) = (-1, -1)

    private struct ColorPairKey: Hashable {
        var foreground: TerminalColor?
        var background: TerminalColor?
    }

    /// Sets up the terminal: locale, terminfo check, `newterm`, input modes, colours, mouse and
    /// signal handlers. Call only after `decideOutputMode` said `.interactive`.
    init(settings: TerminalSettings) throws(TerminalUnavailable) {
        let utf8 = Self.setUpLocale()
        var err: Int32 = 0
        guard cn_term_usable(STDOUT_FILENO, &err) != 0 else {
            let term = getenv("TERM").map { String(cString: $0) } ?? ""
            throw TerminalUnavailable(reason: "terminal type '\(term)' has no usable terminfo entry")
        }
        let saved = SessionSignalHandlers.currentDispositions()
        guard let scr = newterm(nil, cn_stdout(), cn_stdin()) else {
            throw TerminalUnavailable(reason: "curses could not open the terminal")
        }
        screen = scr
        window = cn_stdscr()
        signals = SessionSignalHandlers(restoringTo: saved)
        CrashTerminalRestore.install()
        charset = (utf8 && !settings.asciiOnly) ? .unicode : .ascii

        cbreak()
        noecho()
        nonl()
        keypad(window, true)
        curs_set(0)
        set_escdelay(25)  // Esc alone is a key here (cancel filter); the default waits 1 s for a sequence.
        if settings.color && has_colors() {
            start_color()
            defaultColors = use_default_colors() == OK
            color = true
        } else {
            color = false
        }
        if settings.mouse {
            mouseinterval(0)  // report presses at once instead of waiting to detect a click
            mousemask(CN_BUTTON1_PRESSED | CN_BUTTON1_CLICKED | CN_BUTTON4_PRESSED | CN_BUTTON5_PRESSED, nil)
        }
    }

    deinit { shutdown() }

    /// Restores the terminal (leaves the alternate screen, shows the cursor, restores tty modes)
    /// and the signal dispositions. Safe to call more than once; every exit path calls it.
    func shutdown() {
        guard !isShutDown else { return }
        isShutDown = true
        curs_set(1)
        endwin()
        if let s = screen { delscreen(s) }
        screen = nil
        signals.restore()
        CrashTerminalRestore.uninstall()
    }

    /// G4: ncursesw draws wide characters only in a UTF-8 locale. Returns whether the user's own
    /// locale is UTF-8 (then block and braille characters are assumed to display); in any case
    /// curses runs under a UTF-8 locale so nothing it is given turns into `~V~A`.
    private static func setUpLocale() -> Bool {
        setlocale(LC_ALL, "")
        let utf8 = currentCodesetIsUTF8()
        if !utf8 { setlocale(LC_ALL, "C.UTF-8") }
        return utf8
    }

    static func currentCodesetIsUTF8() -> Bool {
        guard let cs = nl_langinfo(nl_item(CODESET)) else { return false }
        let name = String(cString: cs).uppercased()
        return name == "UTF-8" || name == "UTF8"
    }

    /// Columns and rows of the terminal now.
    var size: (width: Int, height: Int) {
        var y: Int32 = 0, x: Int32 = 0
        cn_getmaxyx(window, &y, &x)
        return (Int(max(0, x)), Int(max(0, y)))
    }

    /// Copies `grid` to the screen. Every cell is written and ncurses sends only what changed.
    func draw(_ grid: CellGrid) {
        let (w, h) = size
        if grid.width != w || grid.height != h || lastDrawnSize != (w, h) { werase(window) }
        lastDrawnSize = (w, h)
        let rows = min(h, grid.height), cols = min(w, grid.width)
        var lastStyle: CellStyle?
        var attr: attr_t = CN_A_NORMAL
        var pair: Int16 = 0
        for y in 0..<rows {
            for x in 0..<cols {
                let cell = grid[x, y]
                if cell.style != lastStyle {
                    lastStyle = cell.style
                    (attr, pair) = attributes(cell.style)
                }
                var v = cell.scalar.value
                if v < 0x20 || v == 0x7f {
                    v = 0x20  // a control character would move the cursor
                } else if v > 0x7e, charset == .ascii {
                    v = 0x3f  // "?": the view drew a non-ASCII character although told not to
                }
                // Writing the bottom-right cell makes curses report ERR (the cursor cannot advance); it is drawn anyway.
                _ = cn_mvadd_wchar(window, Int32(y), Int32(x), wchar_t(bitPattern: v), attr, pair)
            }
        }
        wnoutrefresh(window)
        doupdate()
    }

    /// Forces a full repaint on the next `draw` (Ctrl-L, or after the screen was disturbed).
    func invalidate() { clearok(window, true) }

    private func attributes(_ s: CellStyle) -> (attr_t, Int16) {
        var a = CN_A_NORMAL
        if s.bold { a |= CN_A_BOLD }
        if s.dim { a |= CN_A_DIM }
        if s.reverse { a |= CN_A_REVERSE }
        if s.underline { a |= CN_A_UNDERLINE }
        guard color, s.foreground != nil || s.background != nil else { return (a, 0) }
        return (a, colorPair(ColorPairKey(foreground: s.foreground, background: s.background)))
    }

    /// The pair for a colour combination, created on first use. When the terminal has no pairs
    /// left the combination falls back to its foreground alone, then to the default colours.
    private func colorPair(_ key: ColorPairKey) -> Int16 {
        if let p = pairs[key] { return p }
        var p: Int16 = 0
        if !pairsExhausted {
            // -1 is the terminal's own colour, available only after use_default_colors succeeded.
            let fg = key.foreground.map { Int16($0.rawValue) } ?? (defaultColors ? -1 : Int16(COLOR_WHITE))
            let bg = key.background.map { Int16($0.rawValue) } ?? (defaultColors ? -1 : Int16(COLOR_BLACK))
            if init_pair(nextPair, fg, bg) == OK {
                p = nextPair
                nextPair += 1
            } else {
                pairsExhausted = true
            }
        }
        if p == 0, key.background != nil {
            p = colorPair(ColorPairKey(foreground: key.foreground, background: nil))
        }
        pairs[key] = p
        return p
    }

    /// Waits up to `timeoutMs` for a key (0: do not wait). Returns nil on timeout, on a signal
    /// (check `SessionSignalHandlers.pending`) and for keys encmon does not use.
    func readKey(timeoutMs: Int) -> Key? {
        wtimeout(window, Int32(max(0, timeoutMs)))
        var ch: wint_t = 0
        let rc = wget_wch(window, &ch)
        if rc == KEY_CODE_YES { return functionKey(Int32(ch)) }
        if rc == OK { return Self.characterKey(UInt32(ch)) }
        return nil
    }

    static func characterKey(_ value: UInt32) -> Key? {
        switch value {
        case 9: return .tab
        case 10, 13: return .enter
        case 27: return .escape
        case 8, 127: return .backspace
        case 12: return .resize  // Ctrl-L: repaint
        case 0..<32: return nil
        default:
            guard let s = Unicode.Scalar(value) else { return nil }
            return .character(Character(s))
        }
    }

    private func functionKey(_ code: Int32) -> Key? {
        switch code {
        case KEY_UP: return .up
        case KEY_DOWN: return .down
        case KEY_LEFT: return .left
        case KEY_RIGHT: return .right
        case KEY_PPAGE: return .pageUp
        case KEY_NPAGE: return .pageDown
        case KEY_HOME: return .home
        case KEY_END: return .end
        case KEY_BTAB: return .backTab
        case KEY_ENTER: return .enter
        case KEY_BACKSPACE: return .backspace
        case KEY_RESIZE: return .resize
        case KEY_F0 + 1: return .character("?")  // F1 help, as in htop
        case KEY_F0 + 10: return .character("q")  // F10 quit, as in htop
        case KEY_MOUSE: return mouseKey()
        default: return nil
        }
    }

    private func mouseKey() -> Key? {
        var event = MEVENT()
        guard getmouse(&event) == OK else { return nil }
        if event.bstate & CN_BUTTON4_PRESSED != 0 { return .scrollUp }
        if event.bstate & CN_BUTTON5_PRESSED != 0 { return .scrollDown }
        if event.bstate & (CN_BUTTON1_PRESSED | CN_BUTTON1_CLICKED) != 0 {
            return .mouseClick(x: Int(event.x), y: Int(event.y))
        }
        return nil
    }
}
