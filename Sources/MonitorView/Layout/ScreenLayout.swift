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
        let sideBySide = width >= sideBySideWidth && (natural || height >= 20)
        let leftWidth = min(max(64, width * 45 / 100), 90)
        let demand = PanelDemand(width: width, columnWidth: sideBySide ? width - leftWidth - 1 : width,
                                 snapshot: snapshot, state: state, natural: natural)
        l.header = PanelRect(x: 0, y: 0, width: width, height: headerRows)
        let bodyRows = natural ? Int.max / 4 : height - headerRows - footerRows
        let placed = sideBySide
            ? l.placeSideBySide(demand, top: headerRows, rows: bodyRows, leftWidth: leftWidth, natural: natural)
            : l.placeStacked(demand, top: headerRows, rows: bodyRows, natural: natural)
        guard let bottom = placed else { l.tooSmall = true; return l }
        if let m = l.migration {
            l.migrationPassRows = min(demand.passTable, max(0, m.height - demand.migrationSummary - 1))
        }
        if footerRows > 0 { l.footer = PanelRect(x: 0, y: height - 1, width: width, height: 1) }
        if let m = l.map {
            l.mapGeometry = MapGeometry(window: demand.window, x: m.x + demand.labelWidth, y: m.y + 1,
                                        columns: m.width - demand.labelWidth, rows: max(0, m.height - 2),
                                        labelWidth: demand.labelWidth)
        }
        if natural { l = l.withHeight(bottom) }
        return l
    }

    private mutating func place(_ id: Slot.ID, _ r: PanelRect) {
        switch id {
        case .map: map = r
        case .regions: regions = r
        case .rates: rates = r
        case .cost: cost = r
        case .migration: migration = r
        case .bottom: break
        }
    }

    /// Map across the top; below it the region table on the left, a column of panels on the right.
    /// Returns the row below the last panel, or nil when not even the map fits.
    private mutating func placeSideBySide(_ d: PanelDemand, top: Int, rows: Int, leftWidth: Int, natural: Bool) -> Int? {
        // A running migration goes on top of the right column: it is what the screen is for.
        var right: [Slot] = []
        if d.migrationActive {
            right.append(Slot(.migration, min: d.migrationMin, natural: d.migrationNatural, rank: 4))
        }
        right.append(Slot(.rates, min: 3, natural: d.ratesNatural, rank: 3))
        right.append(Slot(.cost, min: 2, natural: d.costNatural, rank: 1))
        let rightNatural = right.reduce(0) { $0 + $1.natural }
        let bottomNatural = max(d.regionNatural, rightNatural)
        let split = Slot.allocate([Slot(.map, min: 3, natural: d.mapNatural, rank: 9, grow: 2, max: d.mapMax),
                                   Slot(.bottom, min: 3, natural: bottomNatural, rank: 8, grow: 3,
                                        max: max(d.regionMax, rightNatural))],
                                  rows: natural ? d.mapNatural + bottomNatural : rows)
        guard let allotted = split[.map] else { return nil }
        var y = top
        let mapRows = d.mapRowsUsed(allotted)
        place(.map, PanelRect(x: 0, y: y, width: width, height: mapRows)); y += mapRows
        guard let b = split[.bottom] else { return y }
        let bottom = b + allotted - mapRows
        regions = PanelRect(x: 0, y: y, width: leftWidth, height: natural ? d.regionNatural : bottom)
        let got = Slot.allocate(right, rows: bottom)
        var ry = y
        for s in right {
            if let h = got[s.id] { place(s.id, PanelRect(x: leftWidth + 1, y: ry, width: width - leftWidth - 1, height: h)); ry += h }
        }
        return y + (natural ? max(d.regionNatural, ry - y) : bottom)
    }

    /// Every panel full width, one under another. Returns the row below the last panel, or nil
    /// when not even the map fits.
    private mutating func placeStacked(_ d: PanelDemand, top: Int, rows: Int, natural: Bool) -> Int? {
        var slots = [Slot(.map, min: 3, natural: d.mapNatural, rank: 10, grow: 2, max: d.mapMax),
                     Slot(.regions, min: 3, natural: d.regionNatural, rank: 8, grow: 3, max: d.regionMax),
                     Slot(.rates, min: 3, natural: min(d.ratesNatural, natural ? 99 : 5), rank: 3, max: d.ratesNatural)]
        if d.migrationActive {
            slots.append(Slot(.migration, min: d.migrationMin, natural: d.migrationNatural, rank: 9))
        }
        slots.append(Slot(.cost, min: 2, natural: d.costNatural, rank: 1))
        var got = Slot.allocate(slots, rows: natural ? slots.reduce(0) { $0 + $1.natural } : rows)
        guard let allotted = got[.map] else { return nil }
        // Rows the map does not fill go to the panels below, up to what they can show.
        var spare = allotted - d.mapRowsUsed(allotted)
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
        var y = top
        for s in slots { if let h = got[s.id] { place(s.id, PanelRect(x: 0, y: y, width: width, height: h)); y += h } }
        return y
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

/// What each panel needs and wants for one snapshot at one width, before any rows are shared out.
struct PanelDemand {
    let window: PageRange
    let migrationActive: Bool
    let labelWidth, mapColumns: Int
    let ratesNatural, costNatural, regionNatural, regionMax, mapNatural, mapMax: Int
    let passTable, migrationSummary, migrationNatural, migrationMin: Int

    init(width: Int, columnWidth: Int, snapshot: MonitorSnapshot, state: ViewState, natural: Bool) {
        window = state.effectiveWindow(span: snapshot.guestSpan)
        migrationActive = snapshot.migration.isActive
        ratesNatural = 1 + RatesPanel.lineCount(snapshot: snapshot)
        costNatural = 1 + CostPanel.lineCount(snapshot: snapshot, width: columnWidth)
        passTable = migrationActive ? MigrationPanel.passTableRows(snapshot: snapshot) : 0
        migrationSummary = migrationActive
            ? 1 + max(1, MigrationPanel.summaryLines(snapshot: snapshot, width: columnWidth, table: passTable > 0)) : 0
        migrationNatural = migrationSummary + (passTable > 0 ? 1 + passTable : 0)
        // While a migration runs, its resync figures are the point of the screen: the panel
        // (summary, table header and up to three passes) outranks the region list and the
        // tracking cost, which give up their rows first.
        migrationMin = min(migrationNatural, migrationSummary + (passTable > 0 ? 1 + min(3, passTable) : 0))
        regionNatural = 2 + min(max(1, snapshot.regions.count), natural ? 20 : 12)
        regionMax = 2 + max(1, snapshot.regions.count)
        labelWidth = width >= 48 ? Hex.pageAddress(max(1, window.upper)).count + 1 : 0
        mapColumns = width - labelWidth
        let wanted = mapColumns > 0
            ? Int(min(UInt64(natural ? 8 : 64), (window.count + UInt64(mapColumns) - 1) / UInt64(mapColumns))) : 1
        mapNatural = 2 + max(1, min(natural ? 8 : 4, wanted))
        mapMax = 2 + max(1, wanted)
    }

    /// Cells are a power of two in size, so the rows the map gets may hold more than it fills.
    func mapRowsUsed(_ rows: Int) -> Int {
        guard rows > 3, mapColumns > 0 else { return rows }
        let g = MapGeometry(window: window, x: 0, y: 0, columns: mapColumns, rows: rows - 2, labelWidth: labelWidth)
        return 2 + max(1, g.usedRows)
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
