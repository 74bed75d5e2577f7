import MonitorCore

/// What a feed tells the daemon: events attributed to a process, losses, and processes that
/// appeared or went away. The daemon turns these into per-process models.
public enum FeedItem: Sendable, Hashable {
    /// An event of process `pid` (the kernel's tgid for trace events, the VMM pid for QMP).
    case event(pid: Int32, MonitorEvent)
    /// The ring buffer (or the feed's queue) dropped `count` events of unknown processes; every
    /// process tracked at that moment is incomplete from `time` on. `count` nil = unknown number.
    case lost(time: EventTime, count: UInt64?)
    /// A process to track although it has not fired an event yet (a VM found by discovery),
    /// with the name `encmon list` gives it.
    case discovered(pid: Int32, name: String)
    /// Everything before this position of the feed is in this batch or an earlier one. The daemon
    /// saves it once the batch is journaled; a restarted feed resumes there (at-least-once: what
    /// was journaled but not yet acknowledged comes again and is skipped by event time).
    case cursor(UInt64)
}

/// A producer of attributed events: the tracefs reader, VM discovery, or a test stand-in. It runs
/// on its own thread and hands batches to `deliver`, which never blocks.
public protocol ProcessEventFeed: AnyObject, Sendable {
    /// A short description for logs and the viewer header ("tracefs kvm:kvm_hypercall").
    var description: String { get }
    /// Starts producing, from `resumeCursor` when the feed has cursors and one was saved;
    /// `deliver` is called from the feed's thread.
    func start(resumeCursor: UInt64?, deliver: @escaping @Sendable ([FeedItem]) -> Void) throws
    /// Stops producing and joins the feed's thread; no `deliver` call happens after it returns.
    func stop()
}
