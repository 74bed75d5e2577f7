import MonitorCore

/// What render and input both derive from (snapshot, state, size): the layout, the map cursor
/// clamped to the cells drawn, and the region table with its effective selection and scroll.
struct Frame {
    let layout: ScreenLayout
    /// Map cursor clamped to the cells that exist; nil without a map.
    let cursor: Int?
    let table: RegionTable?
    /// Selected table row: the region under the map cursor while the map has focus.
    let selection: Int?
    let scroll: Int

    init(snapshot: MonitorSnapshot, state: ViewState, width: Int, height: Int, natural: Bool = false) {
        layout = ScreenLayout.compute(width: width, height: height, snapshot: snapshot, state: state, natural: natural)
        var cursor: Int?
        if let g = layout.mapGeometry, g.cellCount > 0 { cursor = max(0, min(state.mapCursor, g.cellCount - 1)) }
        self.cursor = cursor
        let visible = layout.regionRows
        guard layout.regions != nil else { table = nil; selection = nil; scroll = 0; return }
        // The scroll below never goes past the stored scroll or selection, so these rows suffice.
        let needed = max(state.tableScroll, state.focus == .regions ? state.tableSelection : 0) + max(visible, 1) + 1
        let t = RegionTable(snapshot: snapshot, state: state, needed: needed)
        table = t
        var sel: Int?
        if state.focus == .map {
            if let g = layout.mapGeometry, let c = cursor { sel = t.row(near: g.pages(ofCell: c), map: snapshot.regions) }
        } else if t.rowCount > 0 {
            sel = max(0, min(state.tableSelection, t.rowCount - 1))
        }
        selection = sel
        scroll = RegionTable.scroll(state.tableScroll, keeping: sel, visible: visible, count: t.rowCount)
    }
}
