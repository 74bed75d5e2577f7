import MonitorCore
import Prometheus

/// The Prometheus exposition of every tracked process, built with swift-prometheus from the models
/// at scrape time (a fresh registry per scrape: exited processes disappear, counters are the
/// models' totals, never double-counted). Names follow Prometheus's rules: `encmon_` prefix, base
/// units, `_total` for counters; labels `pid` and `name` (bounded: one set per tracked process).
enum MetricsRenderer {
    static func render(_ processes: [TrackedProcess], version: String) -> [UInt8] {
        let r = PrometheusCollectorRegistry()
        r.makeGauge(descriptor: d("build_info", "Always 1; the version label says which encmon serves these metrics."),
                    labels: [("version", version)]).set(Int64(1))
        let live = processes.filter { !$0.exited }
        r.makeGauge(descriptor: d("tracked_processes", "Processes (VMs) the daemon tracks now.")).set(Int64(live.count))
        for p in live { add(p, to: r) }
        return r.emitToBuffer()
    }

    private static func add(_ p: TrackedProcess, to r: PrometheusCollectorRegistry) {
        let m = p.monitor
        let t = m.totals
        let vm = [("pid", String(p.identity.pid)), ("name", p.header.name)]
        r.makeGauge(descriptor: d("tracking_complete", "1 while every event since tracking began was seen, 0 after a loss."),
                    labels: vm).set(Int64(p.incompleteSince == nil ? 1 : 0))
        r.makeGauge(descriptor: d("tracking_since_start", "1 when the daemon saw the process start."), labels: vm)
            .set(Int64(p.header.sawStart ? 1 : 0))
        r.makeGauge(descriptor: d("shared_bytes", "Guest memory shared with the host (unencrypted) now."), labels: vm)
            .set(Int64(clamping: m.regions.sharedPages << GuestPage.shift))
        r.makeGauge(descriptor: d("shared_regions", "Contiguous shared regions now."), labels: vm).set(Int64(m.regions.count))
        r.makeGauge(descriptor: d("range_list_bytes", "Bytes a range list of the shared set needs now."), labels: vm)
            .set(Int64(clamping: m.trackingCost.rangeListBytes))
        for (dir, calls, pages) in [("to_shared", t.toShared, t.pagesToShared), ("to_private", t.toPrivate, t.pagesToPrivate)] {
            let labels = vm + [("direction", dir)]
            r.makeCounter(descriptor: d("conversions_total", "Conversion requests by direction."), labels: labels)
                .increment(by: Int64(clamping: calls))
            r.makeCounter(descriptor: d("converted_bytes_total", "Bytes named by conversion requests, by direction."), labels: labels)
                .increment(by: Int64(clamping: pages << GuestPage.shift))
        }
        let hypercalls = t.conversionsByPath[Int(ConversionPath.hypercall.rawValue)] + t.rejected + t.otherHypercalls
        r.makeCounter(descriptor: d("hypercalls_total", "KVM hypercalls seen (MAP_GPA_RANGE, rejected ones, others)."), labels: vm)
            .increment(by: Int64(clamping: hypercalls))
        r.makeCounter(descriptor: d("rejected_conversions_total", "MAP_GPA_RANGE requests KVM rejects."), labels: vm)
            .increment(by: Int64(clamping: t.rejected))
        r.makeCounter(descriptor: d("lost_events_total", "Events lost to ring-buffer overruns while tracked."), labels: vm)
            .increment(by: Int64(clamping: t.lostEvents))
        r.makeCounter(descriptor: d("events_total", "Events applied to the model."), labels: vm)
            .increment(by: Int64(clamping: t.events))
        addMigration(m.migration, vm: vm, to: r)
    }

    private static func addMigration(_ migration: MigrationTracker, vm: [(String, String)], to r: PrometheusCollectorRegistry) {
        guard let p = migration.latest else { return }
        r.makeGauge(descriptor: d("migration_pass", "Pre-copy pass of the current or last migration."), labels: vm).set(Int64(p.pass))
        r.makeGauge(descriptor: d("migration_remaining_bytes", "RAM left to send."), labels: vm)
            .set(Int64(clamping: p.ramRemainingBytes))
        r.makeGauge(descriptor: d("migration_total_bytes", "Guest RAM to migrate."), labels: vm).set(Int64(clamping: p.ramTotalBytes))
        r.makeGauge(descriptor: d("migration_transferred_bytes", "RAM sent so far."), labels: vm)
            .set(Int64(clamping: p.ramTransferredBytes))
        r.makeGauge(descriptor: d("migration_dirty_bytes_per_second", "Guest dirty rate."), labels: vm)
            .set(p.dirtyPagesPerSecond * Double(GuestPage.size))
        r.makeGauge(descriptor: d("migration_bandwidth_bytes_per_second", "Migration link bandwidth."), labels: vm)
            .set(p.bandwidthBytesPerSecond)
        if let dt = p.downtimeSeconds {
            r.makeGauge(descriptor: d("migration_expected_downtime_seconds", "Expected (or, once done, real) downtime."), labels: vm)
                .set(dt)
        }
        let resent = migration.passes.reduce(UInt64(0)) { $0 + ($1.record?.pagesResentForEncryption ?? 0) }
        r.makeCounter(descriptor: d("migration_resent_for_encryption_bytes_total", "Bytes re-sent because their encryption state changed."),
                      labels: vm).increment(by: Int64(clamping: resent << GuestPage.shift))
    }

    private static func d(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "encmon", metricName: name, unitName: "", helpText: help)
    }
}
