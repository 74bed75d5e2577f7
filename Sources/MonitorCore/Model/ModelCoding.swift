/// Codable forms of the model's value types that check what they decode: a snapshot read back
/// from a journal or a socket is input, and must not reach a precondition.

extension DecodingError {
    /// "what" is wrong with the value at `path`.
    static func invalid(_ what: String, at path: [any CodingKey]) -> DecodingError {
        .dataCorrupted(Context(codingPath: path, debugDescription: what))
    }
}

/// `[lower, upper]`.
extension PageRange: Codable {
    public init(from decoder: any Decoder) throws {
        var c = try decoder.unkeyedContainer()
        let lower = try c.decode(UInt64.self), upper = try c.decode(UInt64.self)
        guard lower <= upper, upper <= PageRange.maxPage else {
            throw DecodingError.invalid("bad page range \(lower)..<\(upper)", at: c.codingPath)
        }
        self.init(lower: lower, upper: upper)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.unkeyedContainer()
        try c.encode(lower)
        try c.encode(upper)
    }
}

/// The regions in address order with the cap and flags; decoding bulk-loads the tree in O(n).
extension SharedRegionMap: Codable {
    enum CodingKeys: String, CodingKey { case regionCap, isApproximate, peakCount, regions }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        do {
            try self.init(regions: try c.decode([SharedRegion].self, forKey: .regions),
                          regionCap: try c.decode(Int.self, forKey: .regionCap),
                          isApproximate: try c.decode(Bool.self, forKey: .isApproximate),
                          peakCount: try c.decode(Int.self, forKey: .peakCount))
        } catch let e as SharedRegionMapLoadError {
            throw DecodingError.invalid(e.description, at: c.codingPath + [CodingKeys.regions])
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(regionCap, forKey: .regionCap)
        try c.encode(isApproximate, forKey: .isApproximate)
        try c.encode(peakCount, forKey: .peakCount)
        try c.encode(allRegions, forKey: .regions)
    }
}

extension MonitorConfiguration: Codable {
    enum CodingKeys: String, CodingKey { case regionCap, churnWindow, historySeconds, rangeEntryBytes, recentChangeLimit }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        regionCap = try c.decode(Int.self, forKey: .regionCap)
        churnWindow = try c.decode(EventTime.self, forKey: .churnWindow)
        historySeconds = try c.decode(Int.self, forKey: .historySeconds)
        rangeEntryBytes = try c.decode(UInt64.self, forKey: .rangeEntryBytes)
        recentChangeLimit = try c.decode(Int.self, forKey: .recentChangeLimit)
        guard regionCap >= 1, historySeconds >= 60, historySeconds <= RateTracker.maxHistorySeconds,
              recentChangeLimit >= 1, churnWindow.isFinite else {
            throw DecodingError.invalid("configuration out of range", at: c.codingPath)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(regionCap, forKey: .regionCap)
        try c.encode(churnWindow, forKey: .churnWindow)
        try c.encode(historySeconds, forKey: .historySeconds)
        try c.encode(rangeEntryBytes, forKey: .rangeEntryBytes)
        try c.encode(recentChangeLimit, forKey: .recentChangeLimit)
    }
}
