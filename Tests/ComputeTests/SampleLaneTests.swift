@testable import Compute
import CDNNL
import Foundation
import XCTest

/// `Threads.forEachSample`: whole rounds of samples run side by side, each lane on a thread of
/// its own with its share of the threads in force; left-over samples run after them on all threads;
/// results come back in sample order; the first error is rethrown; the caller's thread count is
/// as it was afterwards.
final class SampleLaneTests: XCTestCase {
    private struct Seen { let thread: pthread_t, ompThreads: Int32 }

    private func run(_ count: Int, threads: Int, lanes: Bool = true) throws -> (results: [Int], seen: [Seen]) {
        let saved = (Threads.count, Threads.sampleLanes)
        Threads.setCount(threads)
        Threads.sampleLanes = lanes
        defer { Threads.setCount(saved.0); Threads.sampleLanes = saved.1 }
        var seen = [Seen?](repeating: nil, count: count)
        let lock = NSLock()
        let results = try Threads.forEachSample(count) { i -> Int in
            let me = Seen(thread: pthread_self(), ompThreads: omp_get_max_threads())
            usleep(20_000)  // long enough for a lane that runs alone to show as such
            lock.lock()
            seen[i] = me
            lock.unlock()
            return i * 10
        }
        XCTAssertEqual(Threads.count, threads, "the caller's thread count is restored")
        return (results, seen.map { $0! })
    }

    func testWholeRoundsRunOnLanesOfOneThreadAndTheRestOnAllThreads() throws {
        let (results, seen) = try run(5, threads: 2)
        XCTAssertEqual(results, [0, 10, 20, 30, 40])
        // Samples 0-3 in two lanes of one thread; lanes take samples lane, lane + 2, ...
        for i in 0..<4 { XCTAssertEqual(seen[i].ompThreads, 1, "sample \(i) ran with \(seen[i].ompThreads) threads") }
        XCTAssertTrue(pthread_equal(seen[0].thread, seen[1].thread) == 0, "samples 0 and 1 ran on different threads")
        XCTAssertTrue(pthread_equal(seen[0].thread, seen[2].thread) != 0, "one lane runs samples 0 and 2")
        XCTAssertTrue(pthread_equal(seen[1].thread, seen[3].thread) != 0, "one lane runs samples 1 and 3")
        // Sample 4 is left over: all threads.
        XCTAssertEqual(seen[4].ompThreads, 2)
    }

    func testLanesShareTheThreadsOut() throws {
        // 5 threads, 4 samples: 4 lanes of 2, 1, 1 and 1 threads; 16 threads, 2 samples: 8 each.
        let (results, seen) = try run(4, threads: 5)
        XCTAssertEqual(results, [0, 10, 20, 30])
        XCTAssertEqual(seen.map(\.ompThreads), [2, 1, 1, 1])
        XCTAssertEqual(Set(seen.map { "\($0.thread)" }).count, 4, "four lanes, four threads")
        XCTAssertEqual(try run(2, threads: 16).seen.map(\.ompThreads), [8, 8])
    }

    func testOneThreadOrOneSampleOrLanesOffRunsOneByOneOnTheCallersThreads() throws {
        for (count, threads, lanes) in [(3, 1, true), (1, 2, true), (3, 2, false)] {
            let (results, seen) = try run(count, threads: threads, lanes: lanes)
            XCTAssertEqual(results, (0..<count).map { $0 * 10 })
            for s in seen {
                XCTAssertEqual(s.ompThreads, Int32(threads))
                XCTAssertTrue(pthread_equal(s.thread, pthread_self()) != 0, "ran on the caller's thread")
            }
        }
    }

    func testTheFirstErrorIsRethrownAfterTheLanesStop() throws {
        struct Failed: Error, Equatable { let sample: Int }
        let saved = Threads.count
        Threads.setCount(2)
        defer { Threads.setCount(saved) }
        XCTAssertThrowsError(try Threads.forEachSample(4) { i -> Int in
            if i == 1 { throw Failed(sample: 1) }
            return i
        }) { XCTAssertEqual($0 as? Failed, Failed(sample: 1)) }
        XCTAssertEqual(Threads.count, 2)
    }
}
