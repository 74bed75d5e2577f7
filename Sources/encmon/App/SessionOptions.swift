import MonitorCore

/// How `runMonitorSession` shows a source; the CLI fills it in from the command line.
struct SessionOptions {
    /// `-d`: seconds between screen refreshes (live, demo), or seconds of trace time between
    /// batch frames of a replay.
    var delay: Double = 1.0
    /// `-n`: stop after this many frames.
    var iterations: Int? = nil
    /// `-b`: text snapshots on stdout instead of the full-screen view.
    var batch = false
    /// Event seconds per wall second for replay and demo sources (`--speed`); nil means 1.
    /// `.infinity` replays as fast as possible. Live and daemon sources ignore it.
    var speed: Double? = nil
    /// `--ascii`: no block, braille or line-drawing characters.
    var asciiOnly = false
    /// `--no-color`; a non-empty `NO_COLOR` in the environment has the same effect.
    var noColor = false
    var mouse = true
    /// `--json`: implies batch mode; each frame is what `batchFrameFormatter` returns.
    var json = false
    /// `--csv`: log mode, a header line then one `CSVLog` row per frame (implies batch).
    var csv = false
    /// Columns of a batch text frame (panels take their natural height); nil: `BatchWidth.decide`.
    var batchWidth: Int? = nil
    /// `replay --follow`: the file keeps growing, so a batch run prints a frame every `delay`
    /// wall seconds (like live sources) instead of reading to an end.
    var follow = false
    /// Writes one batch frame instead of the text panels (the CLI's JSON writer plugs in here).
    /// Its result is printed as is, followed by a newline.
    var batchFrameFormatter: ((MonitorSnapshot, SourceStatus) -> String)? = nil
    /// Called once when the session shows batch frames (asked for, or the terminal cannot be
    /// used): a live source then ends with its VM instead of waiting for it to return.
    var enteringBatchMode: (() -> Void)? = nil

    init(delay: Double = 1.0, iterations: Int? = nil, batch: Bool = false, speed: Double? = nil,
         asciiOnly: Bool = false, noColor: Bool = false, mouse: Bool = true, json: Bool = false) {
        self.delay = delay; self.iterations = iterations; self.batch = batch; self.speed = speed
        self.asciiOnly = asciiOnly; self.noColor = noColor; self.mouse = mouse; self.json = json
    }
}

/// Why a session ended.
enum SessionOutcome: Equatable, Sendable {
    /// The user pressed `q`.
    case quit
    /// `-n` frames were shown, or a batch run reached the end of a finite source.
    case finished
    /// SIGINT, SIGTERM or SIGHUP arrived; the terminal has been restored.
    case signal(Int32)
}
