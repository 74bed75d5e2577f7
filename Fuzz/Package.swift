// swift-tools-version: 6.0
// libFuzzer targets for every parser of untrusted input (trace text in every layout, the streaming
// reader, recordings, QMP replies, trace.dat files, daemon requests). A package of its own, like Benchmarks/, so that the normal
// `swift build --build-tests` never tries to link an executable without main. Build and run from
// the repo root with `make fuzz` (scripts/fuzz.sh: the sanitizer flags, the seeds, the time limit).
import PackageDescription

let fuzzTarget: (String, [Target.Dependency]) -> Target = { name, more in
    // The harness file must not be called main.swift: libFuzzer brings main.
    .executableTarget(name: name, dependencies: ["FuzzSupport",
                                                 .product(name: "MonitorCore", package: "encmon"),
                                                 .product(name: "MonitorView", package: "encmon")] + more)
}

let package = Package(
    name: "encmon-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "encmon", path: ".."),
                   // Already in the root's graph; named here for NIOEmbedded (the daemon harness's channel).
                   .package(url: "https://github.com/apple/swift-nio", from: "2.101.2")],
    targets: [
        // What every harness does with the events it got: apply, snapshot, summarise, draw.
        .target(name: "FuzzSupport", dependencies: [.product(name: "MonitorCore", package: "encmon"),
                                                    .product(name: "MonitorView", package: "encmon")]),
        fuzzTarget("FuzzTraceLine", []),
        fuzzTarget("FuzzTraceReader", []),
        fuzzTarget("FuzzRecording", []),
        fuzzTarget("FuzzQMPReply", []),
        fuzzTarget("FuzzTraceDat", [.product(name: "LiveHost", package: "encmon")]),
        fuzzTarget("FuzzDaemonRequest", [.product(name: "EncmonDaemon", package: "encmon"),
                                         .product(name: "NIOCore", package: "swift-nio"),
                                         .product(name: "NIOEmbedded", package: "swift-nio")]),
    ],
    swiftLanguageModes: [.v6]
)
