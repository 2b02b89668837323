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
    /// (both small-work thresholds at 1) and the samples of a batch one by one (no lanes), then
    /// restores the settings: how the thread-invariance tests make small test models take the
    /// multi-threaded paths of full-size ones.
    public static func withEveryOperationParallel<T>(threads: Int, _ body: () throws -> T) rethrows -> T {
        let saved = (work: minimumWorkPerThread, flops: minimumFlopsPerThread, count: count, lanes: sampleLanes)
        minimumWorkPerThread = 1
        minimumFlopsPerThread = 1
        sampleLanes = false
        setCount(threads)
        defer {
            minimumWorkPerThread = saved.work
            minimumFlopsPerThread = saved.flops
            sampleLanes = saved.lanes
            setCount(saved.count)
        }
        return try body()
    }

    /// Whether `forEachSample` runs samples side by side on lanes sharing the threads (the
    /// default) or one after the other on all threads (to compare: `sdcluster bench unet --no-lanes`).
    public static var sampleLanes = true

    /// `body(i)` for every sample `i` of a batch of `count`, results in order. With several
    /// threads and samples, the samples run side by side on `min(count, threads)` lanes, each a
    /// thread of its own running oneDNN and the engine's loops on its share of the threads (one
    /// each with 2 threads and 2 samples; 8 each with 16 threads; a remainder goes one each to
    /// the first lanes); samples left over after whole rounds of lanes run one after the other
    /// on all threads.
    ///
    /// Why: one sample's primitives on 2 threads gave 1.21x (fp32) and 2.11x (bf16) less
    /// throughput than two 1-thread runs side by side (`scripts/bench/threads-split.sh`): the
    /// threads of one primitive wait on each other and split small layers badly. The bits do
    /// not change: each sample is computed on its own whatever the batch (batch invariance) and
    /// its arithmetic does not depend on the thread count (thread invariance), both tested.
    /// The first error thrown is rethrown after every lane has stopped.
    public static func forEachSample<T>(_ count: Int, _ body: (Int) throws -> T) throws -> [T] {
        let threads = self.count
        let lanes = sampleLanes ? min(count, threads) : 1
        if lanes < 2 { return try (0..<count).map(body) }
        let threadsOfLane = { (lane: Int) in threads / lanes + (lane < threads % lanes ? 1 : 0) }
        let inLanes = count / lanes * lanes
        var results = [T?](repeating: nil, count: count)
        let failure = FirstError()
        let lock = NSLock()
        withoutActuallyEscaping(body) { body in
            let runLane = { (lane: Int) in
                // The ICV is per thread: this lane's oneDNN calls and loops use its share.
                let saved = omp_get_max_threads()
                omp_set_num_threads(Int32(threadsOfLane(lane)))
                defer { omp_set_num_threads(saved) }
                for i in stride(from: lane, to: inLanes, by: lanes) where !failure.isSet {
                    failure.capture {
                        let result = try body(i)
                        lock.lock()
                        results[i] = result
                        lock.unlock()
                    }
                }
            }
            // Threads of our own, not a shared pool, so that the lanes really run at once; the
            // caller runs lane 0. Joined before returning: nothing keeps `body` afterwards.
            var started: [pthread_t] = []
            for lane in 1..<lanes {
                if let thread = LaneThread.start({ runLane(lane) }) { started.append(thread) } else { runLane(lane) }
            }
            runLane(0)
            for thread in started { pthread_join(thread, nil) }
        }
        try failure.rethrow()
        for i in inLanes..<count { results[i] = try body(i) }
        return results.map { $0! }
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

/// A thread for one sample lane (a large stack: the default for new threads can be small).
private final class LaneThread {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }

    /// Starts `run` on a new thread; nil when no thread could be made.
    static func start(_ run: @escaping () -> Void) -> pthread_t? {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setstacksize(&attributes, 8 << 20)
        let box = Unmanaged.passRetained(LaneThread(run))
        var thread = pthread_t()
        let status = pthread_create(&thread, &attributes, { raw in
            Unmanaged<LaneThread>.fromOpaque(raw!).takeRetainedValue().run()
            return nil
        }, box.toOpaque())
        if status != 0 {
            box.release()
            return nil
        }
        return thread
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
