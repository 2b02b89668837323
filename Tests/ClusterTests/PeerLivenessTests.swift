import XCTest
@testable import Cluster

final class PeerLivenessTests: XCTestCase {
    func testSilenceCostsOneLivenessPerIntervalAndAnyMessageRestoresIt() {
        var peer = PeerLiveness(interval: 1, liveness: 3, now: 100)
        XCTAssertEqual(peer.remaining(at: 100.5), 3)
        XCTAssertEqual(peer.remaining(at: 101), 2)
        XCTAssertEqual(peer.remaining(at: 102.9), 1)
        XCTAssertTrue(peer.isAlive(at: 102.9))
        XCTAssertFalse(peer.isAlive(at: 103), "three silent intervals: given up")
        peer.heard(at: 102.5)
        XCTAssertEqual(peer.remaining(at: 103), 3, "a message restores full liveness")
        peer.heard(at: 90)
        XCTAssertEqual(peer.lastHeard, 102.5, "an out-of-order earlier time does not rewind")
    }

    func testHeartbeatIsDueOnlyAfterAnIntervalWithoutSending() {
        var peer = PeerLiveness(interval: 2, liveness: 4, now: 0)
        XCTAssertFalse(peer.heartbeatDue(at: 1.9))
        XCTAssertTrue(peer.heartbeatDue(at: 2))
        peer.sent(at: 2)
        XCTAssertFalse(peer.heartbeatDue(at: 3.5), "any message sent counts as a heartbeat")
        XCTAssertTrue(peer.heartbeatDue(at: 4))
    }

    func testBackoffDoublesUpToItsCeilingAndResets() {
        var backoff = ReconnectBackoff(initial: 0.5, maximum: 4)
        XCTAssertEqual((0..<6).map { _ in backoff.nextDelay() }, [0.5, 1, 2, 4, 4, 4])
        backoff.reset()
        XCTAssertEqual(backoff.nextDelay(), 0.5)
    }
}
