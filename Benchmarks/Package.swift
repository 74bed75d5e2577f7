// swift-tools-version: 6.1
// encmon's benchmarks (ordo-one/benchmark). A package of its own so that the main package and CI
// never build the benchmark tooling. Run from the repo root with `make bench`, or here with
// `swift package --allow-writing-to-package-directory benchmark`. Results: ../BENCHMARKS.md.
import PackageDescription

let benchmarkTarget: (String) -> Target = { name in
    .executableTarget(
        name: name,
        dependencies: [
            "BenchmarkSupport",
            "CReferenceParser",
            .product(name: "Benchmark", package: "benchmark"),
            .product(name: "MonitorCore", package: "encmon"),
            .product(name: "MonitorView", package: "encmon"),
        ],
        path: "Benchmarks/\(name)",
        plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
    )
}

let package = Package(
    name: "encmon-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "encmon", path: ".."),
        // MallocInterposer only: the default RuntimeInterposer trait needs a package this mirror lacks.
        .package(url: "https://github.com/ordo-one/benchmark", exact: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // Trace generator, baselines (I/O floor, reference parser, plain bitmap), guest builders.
        .target(name: "BenchmarkSupport", dependencies: [.product(name: "MonitorCore", package: "encmon")]),
        // The plain C parser the ingest benchmarks time beside encmon's (same iteration).
        .target(name: "CReferenceParser"),
        // Writes the mixed ftrace benchmark trace to a file (scripts/memory.sh).
        .executableTarget(name: "make-trace", dependencies: ["BenchmarkSupport"]),
        benchmarkTarget("TraceIngest"),
        benchmarkTarget("RegionMap"),
        benchmarkTarget("Frame"),
    ],
    swiftLanguageModes: [.v6]
)
