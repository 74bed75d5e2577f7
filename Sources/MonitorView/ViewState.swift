import MonitorCore

/// The panels that can take keyboard focus (Tab cycles).
public enum FocusedPanel: Int, Sendable, CaseIterable { case map, regions }

public enum RegionSortKey: String, Sendable, CaseIterable { case address, size, age, flips }

/// Unicode block and braille characters, or plain ASCII.
public enum Charset: Sendable { case unicode, ascii }

/// A key as the terminal layer reports it, free of curses codes.
public enum Key: Sendable, Hashable {
    case character(Character)
    case up, down, left, right, pageUp, pageDown, home, end, tab, backTab, enter, escape, backspace
    case mouseClick(x: Int, y: Int)
    case scrollUp, scrollDown
    case resize
}

/// What a key asks for. The app loop applies source commands (pause, speed, step, quit);
/// `ViewState.apply` handles the rest.
public enum ViewCommand: Sendable, Hashable {
    case quit, toggleHelp, togglePause, stepOnce, faster, slower, resetRates
    case cycleFocus(forward: Bool)
    case move(dx: Int, dy: Int), page(Int), home, end
    case zoomIn, zoomOut, cycleSort, invertSort
    case beginFilter, beginJump, filterInput(Character), filterBackspace, filterCommit, filterCancel
    case click(x: Int, y: Int)
}

/// The line editor's purpose: `/` filters the region table, `g` jumps to an address.
public enum PromptKind: Sendable, Hashable { case filter, jump }

/// Everything about the screen that is not the model: cursor, zoom, sort, filter, pause.
/// The screen is a function of (snapshot, source status, view state, size).
public struct ViewState: Sendable {
    public var focus: FocusedPanel = .map
    /// The part of the guest span the map shows; nil = the whole span.
    public var mapWindow: PageRange?
    /// Map cell under the cursor, counted row by row from the map's first cell.
    public var mapCursor = 0
    public var sortKey: RegionSortKey = .address
    public var sortDescending = false
    /// First visible row and selected row of the region table.
    public var tableScroll = 0
    public var tableSelection = 0
    /// Region filter (`RegionFilter` syntax, text as typed): the table lists only matches.
    public var filter: String?
    /// The text being typed after `/` (filter) or `g` (jump); nil when not typing.
    public var filterDraft: String?
    /// What the text being typed is for.
    public var prompt: PromptKind = .filter
    /// Why the last committed filter text was refused (shown inline; typing continues).
    public var filterError: String?
    public var showHelp = false
    public var paused = false
    /// Replay speed factor; nil for live sources.
    public var speed: Double?
    public var charset: Charset = .unicode
    public var color = true

    public init() {}
}
