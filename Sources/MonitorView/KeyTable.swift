/// Every key binding in one place (htop's Action.c): the help overlay is generated from
/// `help`, and `command(for:state:)` is the only code that maps keys to commands.
public enum KeyTable {
    /// Keys and what they do, as the help overlay lists them.
    public static let help: [(keys: String, action: String)] = [
        ("q", "quit"),
        ("? h", "show or hide this help (Esc closes)"),
        ("p space", "pause / resume"),
        ("n", "step one batch of events while paused"),
        ("> <", "replay faster / slower"),
        ("r", "reset rates, churn and flip counts"),
        ("Tab S-Tab", "move focus between the map and the region table"),
        ("arrows", "move the map cursor (pans when zoomed) or the table selection"),
        ("PgUp PgDn", "page the map window or the table"),
        ("Home End", "first / last cell or row"),
        ("+ -", "zoom the map in / out around the cursor"),
        ("s", "sort regions by address, size, age, flips"),
        ("I", "invert the sort order"),
        ("/", "filter regions: 4G-6G, size>64K, flips>0 (all must hold)"),
        ("g", "go to an address (0x1f000000, 4G): table row and map cell"),
        ("Esc", "clear the filter"),
        ("click", "select a map cell or a table row"),
    ]

    public static func command(for key: Key, state: ViewState) -> ViewCommand? {
        if state.filterDraft != nil {
            switch key {
            case .character(let c): return .filterInput(c)
            case .backspace: return .filterBackspace
            case .enter: return .filterCommit
            case .escape: return .filterCancel
            case .mouseClick(let x, let y): return .click(x: x, y: y)
            default: return nil
            }
        }
        switch key {
        case .character("q"), .character("Q"): return .quit
        case .character("?"), .character("h"): return .toggleHelp
        case .character("p"), .character(" "): return .togglePause
        case .character("n"): return .stepOnce
        case .character(">"), .character("."): return .faster
        case .character("<"), .character(","): return .slower
        case .character("r"): return .resetRates
        case .character("s"): return .cycleSort
        case .character("I"): return .invertSort
        case .character("/"): return .beginFilter
        case .character("g"): return .beginJump
        case .character("+"), .character("="): return .zoomIn
        case .character("-"), .character("_"): return .zoomOut
        case .escape: return state.showHelp ? .toggleHelp : (state.filter != nil ? .filterCancel : nil)
        case .tab: return .cycleFocus(forward: true)
        case .backTab: return .cycleFocus(forward: false)
        case .up: return .move(dx: 0, dy: -1)
        case .down: return .move(dx: 0, dy: 1)
        case .left: return .move(dx: -1, dy: 0)
        case .right: return .move(dx: 1, dy: 0)
        case .scrollUp: return .move(dx: 0, dy: -1)
        case .scrollDown: return .move(dx: 0, dy: 1)
        case .pageUp: return .page(-1)
        case .pageDown: return .page(1)
        case .home: return .home
        case .end: return .end
        case .mouseClick(let x, let y): return .click(x: x, y: y)
        default: return nil
        }
    }
}
