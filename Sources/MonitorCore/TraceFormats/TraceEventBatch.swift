/// A conversion as a batch replay hands it to the model: plain data (32 bytes, no reference
/// counting), without the pid and vCPU that the model does not read.
public struct ConversionRecord: Sendable, Hashable {
    public var time: EventTime
    public var pages: PageRange
    public var direction: ConversionDirection
    public var path: ConversionPath
    public var anomalies: ConversionAnomalies
    /// The churn tracker's answer for this conversion when a `ChurnStage` ahead of the model
    /// has observed the batch (`TraceEventBatch.churnObserved`): it completes a flip. Fits the
    /// record's padding (still 32 bytes).
    public var completesFlip = false

    public init(time: EventTime, pages: PageRange, direction: ConversionDirection, path: ConversionPath,
                anomalies: ConversionAnomalies = ConversionAnomalies(rawValue: 0)) {
        self.time = time; self.pages = pages; self.direction = direction; self.path = path; self.anomalies = anomalies
    }

    public init(_ c: Conversion) {
        self.init(time: c.time, pages: c.pages, direction: c.direction, path: c.path, anomalies: c.anomalies)
    }

    /// The conversion with its pid and vCPU unknown.
    @inline(__always)
    var conversion: Conversion {
        Conversion(time: time, pages: pages, direction: direction, vcpu: -1, pid: -1, path: path, anomalies: anomalies)
    }
}

/// Events of a batch replay in file order, stored as two lists so that the common case costs a
/// 32-byte append: every conversion in `conversions`, and the rare other events (rejections,
/// other hypercalls, losses, counters, layouts, ...) in `others`, each with the number of
/// conversions that come before it. Replaying both lists merged gives the events in file order.
///
/// Reused between batches: `removeAll()` keeps the capacity.
public struct TraceEventBatch: Sendable {
    /// An event that is not a conversion, after the first `position` conversions.
    public struct Placed: Sendable, Hashable {
        public var position: Int
        public var event: MonitorEvent
    }

    public private(set) var conversions: [ConversionRecord] = []
    public private(set) var others: [Placed] = []
    /// A `ChurnStage` has observed these conversions and set `completesFlip`: the model takes
    /// the flips from the records instead of its own tracker.
    public internal(set) var churnObserved = false

    public init(capacity: Int = 0) {
        conversions.reserveCapacity(capacity)
    }

    public var count: Int { conversions.count + others.count }
    public var isEmpty: Bool { conversions.isEmpty && others.isEmpty }

    @inline(__always)
    public mutating func append(_ record: ConversionRecord) { conversions.append(record) }

    /// Any event; a conversion loses its pid and vCPU.
    public mutating func append(_ event: MonitorEvent) {
        if case .conversion(let c) = event {
            conversions.append(ConversionRecord(c))
        } else {
            others.append(Placed(position: conversions.count, event: event))
        }
    }

    public mutating func removeAll() {
        conversions.removeAll(keepingCapacity: true)
        others.removeAll(keepingCapacity: true)
        churnObserved = false
    }

    /// The conversions, writable in place (a stage ahead of the model annotates them).
    mutating func withMutableConversions<R>(_ body: (inout UnsafeMutableBufferPointer<ConversionRecord>) -> R) -> R {
        conversions.withUnsafeMutableBufferPointer(body)
    }

    /// The events in file order (conversions without pid and vCPU): tests and slow consumers.
    public var events: [MonitorEvent] {
        var out: [MonitorEvent] = []
        out.reserveCapacity(count)
        var k = 0
        for (i, r) in conversions.enumerated() {
            while k < others.count && others[k].position == i { out.append(others[k].event); k += 1 }
            out.append(.conversion(r.conversion))
        }
        while k < others.count { out.append(others[k].event); k += 1 }
        return out
    }
}

extension MonitorEvent {
    /// The event as a batch gives it back (`TraceEventBatch.events`): a conversion without its
    /// pid and vCPU (both -1), anything else unchanged.
    public var batched: MonitorEvent {
        guard case .conversion(var c) = self else { return self }
        c.pid = -1; c.vcpu = -1
        return .conversion(c)
    }
}
