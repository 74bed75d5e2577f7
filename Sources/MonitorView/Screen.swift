import MonitorCore

// PLACEHOLDER: the panels replace this; the signatures are the contract with the terminal layer.
public enum Screen {
    /// The whole screen for one frame.
    public static func render(_ snapshot: MonitorSnapshot, source: SourceStatus, state: ViewState,
                              width: Int, height: Int) -> CellGrid {
        var g = CellGrid(width: width, height: height)
        g.put("encmon  \(source.name)  regions \(snapshot.regions.count)", x: 0, y: 0, style: CellStyle(bold: true))
        return g
    }

    /// The key table: what each key does (nil: not bound).
    public static func command(for key: Key, state: ViewState) -> ViewCommand? {
        switch key {
        case .character("q"): .quit
        default: nil
        }
    }
}

extension ViewState {
    /// Applies a view command (cursor, zoom, sort, filter, focus, help). Source commands
    /// (quit, pause, speed, step, reset) are the app loop's and leave the state unchanged here.
    public mutating func apply(_ command: ViewCommand, snapshot: MonitorSnapshot, width: Int, height: Int) {}
}
