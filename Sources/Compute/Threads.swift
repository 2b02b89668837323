import CDNNL
import Foundation

/// Thread settings and the parallel loop the engine's own kernels use.
///
/// Element-wise kernels run on libgomp's OpenMP team (`GOMP_parallel`), the same threads oneDNN
/// uses: a second pool (Dispatch) would compete with OpenMP workers that are still spinning
/// after each oneDNN call.
public enum Threads {
    /// Sets the number of threads for oneDNN and the engine's own loops.
    public static func setCount(_ n: Int) {
        omp_set_num_threads(Int32(max(1, n)))
    }

    public static var count: Int { Int(omp_get_max_threads()) }

    /// Work (about one float read and written) below which a loop stays on one thread: waking a
    /// second thread costs microseconds, and far more when the machine is busy and that thread
    /// has to wait for a core, so small models' many small operations run serially.
    public static var minimumWorkPerThread = 1 << 18

    /// Floating-point operations below which a oneDNN primitive runs on one thread.
    public static var minimumFlopsPerThread = 1 << 25

    /// Runs `body` on `threads` threads with every operation shared out among them, however small
    /// (both small-work thresholds at 1), then restores the settings: how the thread-invariance
    /// tests make small test models take the multi-threaded paths of full-size ones.
    public static func withEveryOperationParallel<T>(threads: Int, _ body: () throws -> T) rethrows -> T {
        let saved = (work: minimumWorkPerThread, flops: minimumFlopsPerThread, count: count)
        minimumWorkPerThread = 1
        minimumFlopsPerThread = 1
        setCount(threads)
        defer {
            minimumWorkPerThread = saved.work
            minimumFlopsPerThread = saved.flops
            setCount(saved.count)
        }
        return try body()
    }

    /// Threads worth using for `work` units of element-wise work.
    public static func threads(forWork work: Int) -> Int {
        min(count, max(1, work / minimumWorkPerThread))
    }

    /// Runs `body(start, end)` over `0..<total` split into contiguous chunks, one per thread;
    /// `itemCost` is the work of one item (e.g. the channels of a pixel row).
    public static func parallelFor(_ total: Int, itemCost: Int = 1, _ body: (Int, Int) -> Void) {
        if total <= 0 { return }
        let threads = min(total, threads(forWork: total * max(itemCost, 1)))
        if threads <= 1 {
            body(0, total)
            return
        }
        withoutActuallyEscaping(body) { escapable in
            var job = ParallelJob(total: total, body: escapable)
            withUnsafeMutablePointer(to: &job) { ptr in
                GOMP_parallel(parallelTrampoline, UnsafeMutableRawPointer(ptr), UInt32(threads), 0)
            }
        }
    }
}

private struct ParallelJob {
    let total: Int
    let body: (Int, Int) -> Void
}

private let parallelTrampoline: @convention(c) (UnsafeMutableRawPointer?) -> Void = { raw in
    let job = raw!.assumingMemoryBound(to: ParallelJob.self).pointee
    let t = Int(omp_get_thread_num()), n = Int(omp_get_num_threads())
    let chunk = (job.total + n - 1) / n
    let start = t * chunk, end = min(job.total, start + chunk)
    if start < end { job.body(start, end) }
}

/// The first error thrown in the body of a `Threads.parallelFor`, whose closure cannot throw:
/// each thread runs its part under `capture`, later items are skipped once one has failed
/// (`isSet`), and the caller rethrows after the loop.
final class FirstError: @unchecked Sendable {
    private var error: Error?
    private let lock = NSLock()

    var isSet: Bool {
        lock.lock()
        defer { lock.unlock() }
        return error != nil
    }

    func capture(_ body: () throws -> Void) {
        do {
            try body()
        } catch {
            lock.lock()
            if self.error == nil { self.error = error }
            lock.unlock()
        }
    }

    func rethrow() throws {
        lock.lock()
        let error = self.error
        lock.unlock()
        if let error { throw error }
    }
}
