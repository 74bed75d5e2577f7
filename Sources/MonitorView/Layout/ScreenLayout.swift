import MonitorCore

/// The layout manager (htop's ScreenManager): decides each panel's rectangle from the terminal
/// size, every frame. Render and `ViewState.apply` both call `compute`, so clicks and page keys
/// see the rectangles that were drawn.
///
/// Panels that do not fit are dropped, least useful first: tracking cost, rates, region table,
/// migration, map; below that a one-line "terminal too small". A running migration's summary and
/// the first rows of its per-pass table come before region rows.
public struct ScreenLayout: Sendable, Hashable {
    public enum Panel: Sendable, Hashable, CaseIterable { case header, map, regions, rates, cost, migration, footer }

    public let width: Int
    public let height: Int
    /// True when nothing but the "terminal too small" line fits.
    public var tooSmall = false
    public var header: PanelRect?
    public var map: PanelRect?
    public var mapGeometry: MapGeometry?
    public var regions: PanelRect?
    public var rates: PanelRect?
    public var cost: PanelRect?
    public var migration: PanelRect?
    /// Key hints, or the filter prompt while typing.
    public var footer: PanelRect?
    /// Whether the migration panel has room for its per-pass table.
    public var migrationPassRows = 0

    public static let minimumWidth = 24
    public static let minimumHeight = 4
    /// Widest terminal that still stacks the panels; wider ones put the table beside rates.
    static let sideBySideWidth = 120

    public func rect(of panel: Panel) -> PanelRect? {
        switch panel {
        case .header: header
        case .map: map
        case .regions: regions
        case .rates: rates
        case .cost: cost
        case .migration: migration
        case .footer: footer
        }
    }

    /// Rows of the region table that show regions (below its title and column header).
    public var regionRows: Int { max(0, (regions?.height ?? 0) - 2) }

    public static func compute(width: Int, height: Int, snapshot: MonitorSnapshot, state: ViewState) -> ScreenLayout {
        compute(width: width, height: height, snapshot: snapshot, state: state, natural: false)
    }

    /// `natural`: every panel at the height it wants (batch text); `height` is then ignored.
    static func compute(width: Int, height: Int, snapshot: MonitorSnapshot, state: ViewState, natural: Bool) -> ScreenLayout {
        var l = ScreenLayout(width: max(0, width), height: max(0, natural ? 0 : height))
        guard width >= minimumWidth, natural || height >= minimumHeight else { l.tooSmall = true; return l }

        let headerRows = natural || height >= 12 ? 2 : 1
        let footerRows = !natural && height >= 16 ? 1 : 0
        let migrationActive = snapshot.migration.isActive
        let window = state.effectiveWindow(span: snapshot.guestSpan)
        let sideBySide = width >= sideBySideWidth && (natural || height >= 20)
        let leftWidth = min(max(64, width * 45 / 100), 90)
        let rightWidth = width - leftWidth - 1
        let columnWidth = sideBySide ? rightWidth : width

        // What each panel needs and wants.
        let ratesNatural = 1 + RatesPanel.lineCount(snapshot: snapshot)
        let costNatural = 1 + CostPanel.lineCount(snapshot: snapshot, width: columnWidth)
        let passTable = migrationActive ? MigrationPanel.passTableRows(snapshot: snapshot) : 0
        let migrationSummary = migrationActive ? 1 + max(1, MigrationPanel.summaryLines(snapshot: snapshot, width: columnWidth, table: passTable > 0)) : 0
        let migrationNatural = migrationSummary + (passTable > 0 ? 1 + passTable : 0)
        // While a migration runs, its resync figures are the point of the screen: the panel
        // (summary, table header and up to three passes) outranks the region list and the
        // tracking cost, which give up their rows first.
        let migrationMin = min(migrationNatural, migrationSummary + (passTable > 0 ? 1 + min(3, passTable) : 0))
        let regionNatural = 2 + min(max(1, snapshot.regions.count), natural ? 20 : 12)
        let labelWidth = width >= 48 ? Hex.address(max(1, window.upper) << GuestPage.shift).count + 1 : 0
        let mapColumns = width - labelWidth
        let mapRowsWanted = mapColumns > 0 ? Int(min(UInt64(natural ? 8 : 64), (window.count + UInt64(mapColumns) - 1) / UInt64(mapColumns))) : 1
        let mapNatural = 2 + max(1, min(natural ? 8 : 4, mapRowsWanted))
        let mapMax = 2 + max(1, mapRowsWanted)

        // Cells are a power of two in size, so the rows the map gets may hold more than it fills.
        func mapRowsUsed(_ rows: Int) -> Int {
            guard rows > 3, mapColumns > 0 else { return rows }
            let g = MapGeometry(window: window, x: 0, y: 0, columns: mapColumns, rows: rows - 2, labelWidth: labelWidth)
            return 2 + max(1, g.usedRows)
        }

        var y = 0
        l.header = PanelRect(x: 0, y: 0, width: width, height: headerRows)
        y += headerRows
        let bodyRows = natural ? Int.max / 4 : height - headerRows - footerRows

        func place(_ id: Slot.ID, _ r: PanelRect) {
            switch id {
            case .map: l.map = r
            case .regions: l.regions = r
            case .rates: l.rates = r
            case .cost: l.cost = r
            case .migration: l.migration = r
            case .bottom: break
            }
        }

        if sideBySide {
            // A running migration goes on top of the right column: it is what the screen is for.
            var right: [Slot] = []
            if migrationActive {
                right.append(Slot(.migration, min: migrationMin, natural: migrationNatural, rank: 4))
            }
            right.append(Slot(.rates, min: 3, natural: ratesNatural, rank: 3))
            right.append(Slot(.cost, min: 2, natural: costNatural, rank: 1))
            let rightNatural = right.reduce(0) { $0 + $1.natural }
            let bottomNatural = natural ? max(regionNatural, rightNatural) : max(regionNatural, rightNatural)
            let top = Slot.allocate([Slot(.map, min: 3, natural: mapNatural, rank: 9, grow: 2, max: mapMax),
                                     Slot(.bottom, min: 3, natural: bottomNatural, rank: 8, grow: 3,
                                          max: max(2 + max(1, snapshot.regions.count), rightNatural))],
                                    rows: natural ? mapNatural + bottomNatural : bodyRows)
            guard let allotted = top[.map] else { l.tooSmall = true; return l }
            let mapRows = mapRowsUsed(allotted)
            place(.map, PanelRect(x: 0, y: y, width: width, height: mapRows)); y += mapRows
            if let b = top[.bottom] {
                let bottom = b + allotted - mapRows
                l.regions = PanelRect(x: 0, y: y, width: leftWidth, height: natural ? regionNatural : bottom)
                let got = Slot.allocate(right, rows: bottom)
                var ry = y
                for s in right { if let h = got[s.id] { place(s.id, PanelRect(x: leftWidth + 1, y: ry, width: rightWidth, height: h)); ry += h } }
                y += natural ? max(regionNatural, ry - y) : bottom
            }
        } else {
            var slots = [Slot(.map, min: 3, natural: mapNatural, rank: 10, grow: 2, max: mapMax),
                         Slot(.regions, min: 3, natural: regionNatural, rank: 8, grow: 3, max: 2 + max(1, snapshot.regions.count)),
                         Slot(.rates, min: 3, natural: min(ratesNatural, natural ? 99 : 5), rank: 3, max: ratesNatural)]
            if migrationActive {
                slots.append(Slot(.migration, min: migrationMin, natural: migrationNatural, rank: 9))
            }
            slots.append(Slot(.cost, min: 2, natural: costNatural, rank: 1))
            var got = Slot.allocate(slots, rows: natural ? slots.reduce(0) { $0 + $1.natural } : bodyRows)
            guard let allotted = got[.map] else { l.tooSmall = true; return l }
            // Rows the map does not fill go to the panels below, up to what they can show.
            var spare = allotted - mapRowsUsed(allotted)
            if !natural && spare > 0 {
                got[.map] = allotted - spare
                for s in slots where s.id != .map && spare > 0 {
                    guard let h = got[s.id] else { continue }
                    let add = min(spare, s.max - h)
                    if add > 0 { got[s.id] = h + add; spare -= add }
                }
                got[.map]! += spare
            } else if natural {
                got[.map] = allotted - spare
            }
            for s in slots { if let h = got[s.id] { place(s.id, PanelRect(x: 0, y: y, width: width, height: h)); y += h } }
        }
        if let m = l.migration {
            l.migrationPassRows = min(passTable, max(0, m.height - migrationSummary - 1))
        }
        if footerRows > 0 { l.footer = PanelRect(x: 0, y: height - 1, width: width, height: 1) }
        if let m = l.map {
            let rows = max(0, m.height - 2)
            l.mapGeometry = MapGeometry(window: window, x: m.x + labelWidth, y: m.y + 1,
                                        columns: m.width - labelWidth, rows: rows, labelWidth: labelWidth)
        }
        if natural { l = l.withHeight(y) }
        return l
    }

    private init(width: Int, height: Int) { self.width = width; self.height = height }

    private func withHeight(_ h: Int) -> ScreenLayout {
        var c = ScreenLayout(width: width, height: h)
        c.tooSmall = tooSmall; c.header = header; c.map = map; c.mapGeometry = mapGeometry
        c.regions = regions; c.rates = rates; c.cost = cost; c.migration = migration
        c.footer = footer; c.migrationPassRows = migrationPassRows
        return c
    }
}

/// One panel's claim on rows in a vertical stack.
struct Slot {
    enum ID: Hashable { case map, regions, rates, cost, migration, bottom }
    let id: ID
    let min: Int
    let natural: Int
    /// Lower ranks are dropped first when the minimums do not fit.
    let rank: Int
    /// Share of the rows left once every panel has its natural height.
    let grow: Int
    let max: Int

    init(_ id: ID, min: Int, natural: Int, rank: Int, grow: Int = 0, max: Int = Int.max) {
        self.id = id; self.min = min; self.natural = Swift.max(min, natural); self.rank = rank; self.grow = grow
        self.max = Swift.max(self.natural, max)
    }

    /// Rows for each slot that fits: minimums first (dropping the lowest ranks until they fit),
    /// then natural heights by rank, then the rest by `grow` weight up to `max`.
    static func allocate(_ slots: [Slot], rows: Int) -> [ID: Int] {
        var kept = slots
        while !kept.isEmpty, kept.reduce(0, { $0 + $1.min }) > rows {
            let drop = kept.indices.min { kept[$0].rank < kept[$1].rank }!
            kept.remove(at: drop)
        }
        var h = [ID: Int]()
        var left = rows
        for s in kept { h[s.id] = s.min; left -= s.min }
        for s in kept.sorted(by: { $0.rank > $1.rank }) where left > 0 {
            let add = Swift.min(left, s.natural - s.min)
            h[s.id]! += add; left -= add
        }
        while left > 0 {
            let growing = kept.filter { $0.grow > 0 && h[$0.id]! < $0.max }
            guard !growing.isEmpty else { break }
            let weight = growing.reduce(0) { $0 + $1.grow }
            var given = 0
            for s in growing {
                let share = Swift.max(1, left * s.grow / weight)
                let add = Swift.min(share, s.max - h[s.id]!, left - given)
                if add > 0 { h[s.id]! += add; given += add }
            }
            if given == 0 { break }
            left -= given
        }
        return h
    }
}
