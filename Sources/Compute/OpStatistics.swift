import Foundation

/// Optional accounting of the engine's work: floating-point operations of the matmul-like
/// operations, and (when profiling) wall time per operation kind and shape. Off by default;
/// the benchmark turns it on.
public final class OpStatistics: @unchecked Sendable {
    public static let shared = OpStatistics()

    public struct Entry {
        public var calls = 0
        public var seconds = 0.0
        public var flops = 0.0
    }

    public var countFlops = false
    public var profile = false
    public private(set) var flops = 0.0
    public private(set) var entries: [String: Entry] = [:]
    private let lock = NSLock()

    public func reset() {
        lock.lock(); defer { lock.unlock() }
        flops = 0
        entries = [:]
    }

    @inline(__always)
    func addFlops(_ f: Double) {
        guard countFlops else { return }
        lock.lock()
        flops += f
        lock.unlock()
    }

    /// Times `body` under `name` when profiling; otherwise just runs it.
    @inline(__always)
    func measure<T>(_ name: @autoclosure () -> String, flops f: Double = 0, _ body: () throws -> T) rethrows -> T {
        addFlops(f)
        guard profile else { return try body() }
        let start = DispatchTime.now().uptimeNanoseconds
        let result = try body()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let key = name()
        lock.lock()
        entries[key, default: Entry()].calls += 1
        entries[key, default: Entry()].seconds += seconds
        entries[key, default: Entry()].flops += f
        lock.unlock()
        return result
    }
}
