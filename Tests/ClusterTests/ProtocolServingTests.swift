import XCTest
@testable import Cluster

/// The pattern the coordinator's sockets follow: decode what arrives, answer a refusal with an
/// ERROR to that peer, keep serving. Over tcp with ZMQ_MAXMSGSIZE from the protocol limits.
final class ProtocolServingTests: XCTestCase {
    /// One turn of a ROUTER loop: returns the decoded message, or replies ERROR and returns nil.
    private func serveOne(_ router: ZMQSocket) throws -> WorkerToCoordinator? {
        let received = try XCTUnwrap(try receive(router), "a message arrives")
        let routed = try RoutedFrames(received: received)
        do {
            return try WorkerToCoordinator.decode(routed.frames)
        } catch let error as ProtocolError {
            let reply = CoordinatorToWorker.error(ErrorReply(error, inReplyTo: MessageType.peek(routed.frames)))
            try router.send(frames: RoutedFrames(identity: routed.identity, frames: reply.encode()).toSend)
            return nil
        }
    }

    func testMalformedMessagesGetErrorRepliesAndTheRouterKeepsServing() throws {
        let context = try ZMQContext()
        let limits = ProtocolLimits.standard
        let (router, endpoint) = try boundRouter(context, options: [.maxMessageSize(bytes: limits.socketMaxMessageSize),
                                                                    .routerMandatory(true)])
        let worker = try context.socket(.dealer)
        try worker.connect(endpoint)

        let malformed: [([[UInt8]], ErrorCode, String?)] = [
            ([Array("GET / HTTP/1.1".utf8)], .badFrames, nil),
            ([Array("SDC9".utf8), Array("READY".utf8), Array("{}".utf8)], .unsupportedVersion, nil),
            (replacing(WorkerToCoordinator.ready(Samples.ready).encode(), at: 2, with: Array("{".utf8)), .badHeader, "READY"),
            (ClientToCoordinator.status(StatusQuery()).encode(), .unexpectedType, "STATUS"),
        ]
        for (frames, code, inReplyTo) in malformed {
            try worker.send(frames: frames)
            XCTAssertNil(try serveOne(router))
            let reply = try CoordinatorToWorker.decode(try XCTUnwrap(try receive(worker), "an ERROR comes back"))
            guard case .error(let error) = reply else { return XCTFail("\(reply)") }
            XCTAssertEqual(error.code, code)
            XCTAssertEqual(error.inReplyTo, inReplyTo)
        }
        try worker.send(frames: WorkerToCoordinator.ready(Samples.ready).encode())
        XCTAssertEqual(try serveOne(router), .ready(Samples.ready), "a good message after the bad ones is served")
    }
}
