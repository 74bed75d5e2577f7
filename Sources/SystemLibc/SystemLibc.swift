// The C library under one name: `import SystemLibc` instead of a `#if canImport(Glibc)` ladder in
// every file that makes a system call.
#if canImport(Glibc)
@_exported import Glibc
#elseif canImport(Musl)
@_exported import Musl
#elseif canImport(Darwin)
@_exported import Darwin
#endif
