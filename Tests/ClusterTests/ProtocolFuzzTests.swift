import XCTest
@testable import Cluster

/// Garbage and damaged messages must be refused with a `ProtocolError`, never crash the
/// decoder or surface another error type (the coordinator turns ProtocolErrors into ERROR replies).
final class ProtocolFuzzTests: XCTestCase {
    /// SplitMix64: a tiny deterministic generator so failures reproduce.
    private struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    private func decodeAll(_ frames: [[UInt8]]) {
        let decoders: [([[UInt8]]) throws -> Void] = [
            { _ = try WorkerToCoordinator.decode($0) }, { _ = try CoordinatorToWorker.decode($0) },
            { _ = try ClientToCoordinator.decode($0) }, { _ = try CoordinatorToClient.decode($0) },
        ]
        for decode in decoders {
            do { try decode(frames) } catch is ProtocolError {} catch { XCTFail("non-protocol error \(error)") }
        }
    }

    func testDamagedValidMessagesAreRefusedOrDecodedNeverCrash() {
        var rng = SplitMix(state: 2026)
        let valid: [[[UInt8]]] = [
            WorkerToCoordinator.ready(Samples.ready).encode(), WorkerToCoordinator.unetResult(Samples.unetResult).encode(),
            CoordinatorToWorker.unetTask(Samples.unetTask).encode(), ClientToCoordinator.submit(Samples.submit).encode(),
            CoordinatorToClient.result(Samples.finished).encode(), CoordinatorToClient.statusReply(Samples.status).encode(),
        ]
        for _ in 0..<3000 {
            var frames = valid.randomElement(using: &rng)!
            switch rng.next() % 4 {
            case 0:  // flip a byte somewhere
                let f = Int(rng.next() % UInt64(frames.count))
                if !frames[f].isEmpty { frames[f][Int(rng.next() % UInt64(frames[f].count))] ^= UInt8(truncatingIfNeeded: rng.next() | 1) }
            case 1:  // truncate a frame
                let f = Int(rng.next() % UInt64(frames.count))
                frames[f] = Array(frames[f].prefix(Int(rng.next() % UInt64(frames[f].count + 1))))
            case 2:  // drop or duplicate a frame
                let f = Int(rng.next() % UInt64(frames.count))
                if rng.next() % 2 == 0 { frames.remove(at: f) } else { frames.insert(frames[f], at: f) }
            default:  // random bytes in place of a frame
                let f = Int(rng.next() % UInt64(frames.count))
                frames[f] = (0..<Int(rng.next() % 64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            }
            decodeAll(frames)
        }
    }
}
