// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "encmon",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "encmon", targets: ["encmon"]),
        .library(name: "MonitorCore", targets: ["MonitorCore"]),
        .library(name: "MonitorView", targets: ["MonitorView"]),
        .library(name: "LiveHost", targets: ["LiveHost"]),
        // For Fuzz/ (the daemon's request pipeline), like the libraries above.
        .library(name: "EncmonDaemon", targets: ["EncmonDaemon"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // ncursesw with a shim for the macros Swift cannot import (no pkgConfig: SwiftPM drops its -D flags).
        .systemLibrary(name: "CNcurses"),
        // libtracefs/libtraceevent and libtracecmd, through pkg-config (Makefile `deps` installs them).
        .systemLibrary(name: "CTracefs", pkgConfig: "libtracefs", providers: [.apt(["libtracefs-dev", "libtraceevent-dev"])]),
        .systemLibrary(name: "CTracecmd", pkgConfig: "libtracecmd", providers: [.apt(["libtracecmd-dev"])]),
        // The C library (Glibc, Musl or Darwin) re-exported under one name.
        .target(name: "SystemLibc"),
        // pidfd_open, pidfd_getfd and ioctl with fixed signatures (Swift cannot call variadic C).
        .systemLibrary(name: "CKVMHost"),
        // __builtin_prefetch for the region map (a static inline C function, inlined into Swift).
        .target(name: "CPrefetch"),
        // Model, trace formats, sources, simulator: pure Swift, no terminal.
        .target(name: "MonitorCore", dependencies: ["SystemLibc", "CPrefetch"]),
        // The live host: tracefs, trace.dat, VM discovery, KVM statistics. Talks to the kernel.
        .target(name: "LiveHost", dependencies: ["MonitorCore", "SystemLibc", "CTracefs", "CTracecmd", "CKVMHost"]),
        // Panels drawn into a plain cell grid; text output. No curses.
        .target(name: "MonitorView", dependencies: ["MonitorCore"]),
        // `encmon serve`: per-process models, journals, the Unix-socket protocol and /metrics (SwiftNIO).
        .target(
            name: "EncmonDaemon",
            dependencies: [
                "MonitorCore", "LiveHost", "SystemLibc",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .executableTarget(
            name: "encmon",
            dependencies: [
                "MonitorCore", "MonitorView", "LiveHost", "EncmonDaemon", "CNcurses", "SystemLibc",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "MonitorCoreTests", dependencies: ["MonitorCore", "SystemLibc"], resources: [.copy("Fixtures")]),
        // posix_spawn for the tests that run programs; a library only the test targets use.
        .target(name: "TestSupport", dependencies: ["SystemLibc"], path: "Tests/TestSupport"),
        .testTarget(name: "LiveHostTests", dependencies: ["LiveHost", "MonitorCore", "SystemLibc", "TestSupport"]),
        .testTarget(name: "MonitorViewTests", dependencies: ["MonitorView", "MonitorCore"]),
        .testTarget(name: "DaemonTests", dependencies: ["EncmonDaemon", "MonitorCore", "SystemLibc"]),
        // Depends on the executable so that `swift test` builds the binary first.
        .testTarget(name: "EndToEndTests", dependencies: ["encmon", "EncmonDaemon", "SystemLibc", "TestSupport"], exclude: ["Fixtures"]),
    ],
    swiftLanguageModes: [.v6]
)
