// make-trace: writes the benchmark trace (BenchmarkSupport.TraceGenerator) to a file.
//   make-trace FILE --bytes N | --lines N | --alternating REGIONS | --few-regions LINES [--seed S]
// (--few-regions: issue 14's shape, BenchmarkSupport.FewRegionsTrace; --seed does not apply)
#if canImport(Glibc)
import Glibc
#endif
import BenchmarkSupport

func fail(_ message: String, _ code: Int32) -> Never {
    _ = message.withCString { write(2, $0, strlen($0)) }
    exit(code)
}

let args = CommandLine.arguments
func usage() -> Never {
    fail("usage: make-trace FILE (--bytes N | --lines N | --alternating REGIONS | --few-regions LINES) [--seed S]\n", 64)
}
guard args.count >= 4 else { usage() }
let path = args[1]
var lines = Int.max, bytes = Int.max
var seed = TraceGenerator.defaultSeed
var alternating: Int?
var fewRegions: Int?
var i = 2
while i + 1 < args.count {
    guard let v = UInt64(args[i + 1]) else { usage() }
    switch args[i] {
    case "--bytes": bytes = Int(v)
    case "--lines": lines = Int(v)
    case "--seed": seed = v
    case "--alternating": alternating = Int(v)
    case "--few-regions": fewRegions = Int(v)
    default: usage()
    }
    i += 2
}
let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
guard fd >= 0 else { fail("make-trace: cannot create \(path): errno \(errno)\n", 73) }
if let fewRegions {
    let written = FewRegionsTrace.generate(to: fd, lines: fewRegions)
    close(fd)
    print("\(path): \(fewRegions) lines, \(written) bytes")
    exit(0)
}
var gen = TraceGenerator(seed: seed)
if let alternating {
    gen.writeAlternating(to: fd, regions: alternating)
} else {
    gen.write(to: fd, lines: lines, bytes: bytes)
}
close(fd)
print("\(path): \(gen.linesWritten) lines, \(gen.bytesWritten) bytes")
