import XCTest
@testable import Cluster

final class ZMQSocketTests: XCTestCase {
    func testRouterDealerRoundTripOverInprocCarriesIdentityAndAllFrames() throws {
        let context = try ZMQContext()
        let router = try context.socket(.router)
        try router.bind("inproc://round-trip")
        let dealer = try context.socket(.dealer)
        try dealer.set(.routingId(bytes("worker-7")))
        try dealer.connect("inproc://round-trip")

        let sent: [[UInt8]] = [bytes("SDC4"), bytes("READY"), [], [UInt8](repeating: 0xAB, count: 100_000)]
        try dealer.send(frames: sent)
        let got = try XCTUnwrap(try receive(router))
        XCTAssertEqual(got.first, bytes("worker-7"), "ROUTER prefixes the peer's routing id")
        XCTAssertEqual(Array(got.dropFirst()), sent, "every frame arrives, empty and large ones included")

        try router.send(frames: [bytes("worker-7"), bytes("reply"), bytes("two")])
        XCTAssertEqual(try receive(dealer), [bytes("reply"), bytes("two")], "ROUTER strips the identity on the way out")
    }

    func testRouterDealerRoundTripOverLoopbackTCP() throws {
        let context = try ZMQContext()
        let (router, endpoint) = try boundRouter(context)
        XCTAssertTrue(endpoint.hasPrefix("tcp://127.0.0.1:"), endpoint)
        XCTAssertFalse(endpoint.hasSuffix(":*"), "the wildcard port is resolved")
        let dealer = try context.socket(.dealer)
        try dealer.connect(endpoint)

        for i in 0..<20 {
            try dealer.send(frames: [bytes("ping"), bytes("\(i)")])
        }
        var identity: [UInt8] = []
        for i in 0..<20 {
            let got = try XCTUnwrap(try receive(router), "message \(i) arrives")
            identity = got[0]
            XCTAssertEqual(Array(got.dropFirst()), [bytes("ping"), bytes("\(i)")], "in order, whole")
        }
        try router.send(frames: [identity, bytes("pong")])
        XCTAssertEqual(try receive(dealer), [bytes("pong")])
    }

    func testEndpointsWithoutATransportAreTCP() throws {
        XCTAssertEqual(ZMQSocket.withTransport("127.0.0.1:7430"), "tcp://127.0.0.1:7430")
        XCTAssertEqual(ZMQSocket.withTransport("inproc://x"), "inproc://x")
        let context = try ZMQContext()
        let router = try context.socket(.router)
        try router.bind("127.0.0.1:*")
        let endpoint = try router.lastEndpoint
        XCTAssertTrue(endpoint.hasPrefix("tcp://127.0.0.1:"), endpoint)
        let dealer = try context.socket(.dealer)
        try dealer.connect(String(endpoint.dropFirst("tcp://".count)))  // host:port, as a user types it
        try dealer.send(frames: [bytes("hello")])
        XCTAssertEqual(try XCTUnwrap(try receive(router)).last, bytes("hello"))
    }

    func testSendFromRawBufferDeliversTheSameBytes() throws {
        let context = try ZMQContext()
        let pull = try context.socket(.pull)
        try pull.bind("inproc://raw")
        let push = try context.socket(.push)
        try push.connect("inproc://raw")
        let floats: [Float] = [1.5, -2.25, 3e-8, 65504]
        try push.send(frame: bytes("header"), more: true)
        try floats.withUnsafeBytes { try push.send(bytes: $0, more: false) }
        let got = try XCTUnwrap(try receive(pull))
        XCTAssertEqual(got.count, 2)
        XCTAssertEqual(got[1], floats.withUnsafeBytes { Array($0) })
    }

    func testPollerTimesOutWithNothingReadyAndReportsTheReadySocket() throws {
        let context = try ZMQContext()
        let a = try context.socket(.pull), b = try context.socket(.pull)
        try a.bind("inproc://poll-a")
        try b.bind("inproc://poll-b")
        let poller = ZMQPoller()
        XCTAssertEqual(poller.add(a), 0)
        XCTAssertEqual(poller.add(b), 1)
        let idle = try poller.poll(timeoutMilliseconds: 30)
        XCTAssertEqual(idle.map(\.rawValue), [0, 0], "a timeout returns with no events")

        let push = try context.socket(.push)
        try push.connect("inproc://poll-b")
        try push.send(frames: [bytes("x")])
        let ready = try poller.poll(timeoutMilliseconds: 2000)
        XCTAssertFalse(ready[0].contains(.readable))
        XCTAssertTrue(ready[1].contains(.readable), "the socket with a message is the one reported")
    }

    func testNonBlockingReceiveOnAnEmptySocketThrowsAgain() throws {
        let context = try ZMQContext()
        let dealer = try context.socket(.dealer)
        try dealer.bind("inproc://empty")
        XCTAssertThrowsError(try dealer.receiveMessage(dontWait: true)) { error in
            XCTAssertEqual(error as? ZMQError, .again)
        }
    }

    func testReceiveAfterContextShutdownThrowsTerminated() throws {
        let context = try ZMQContext()
        let dealer = try context.socket(.dealer)
        try dealer.bind("inproc://term")
        context.shutdown()
        XCTAssertThrowsError(try dealer.receiveMessage()) { error in
            XCTAssertEqual(error as? ZMQError, .terminated)
        }
    }

    func testRouterMandatoryRefusesAnUnknownIdentity() throws {
        let context = try ZMQContext()
        let router = try context.socket(.router)
        try router.set(.routerMandatory(true))
        try router.bind("inproc://mandatory")
        XCTAssertThrowsError(try router.send(frames: [bytes("nobody"), bytes("hello")])) { error in
            XCTAssertEqual(error as? ZMQError, .hostUnreachable)
        }
    }

    func testMaxMessageSizeDropsAnOversizedMessageAndLaterSmallOnesStillArrive() throws {
        let context = try ZMQContext()
        let (router, endpoint) = try boundRouter(context, options: [.maxMessageSize(bytes: 1000)])
        let dealer = try context.socket(.dealer)
        try dealer.set(.reconnectInterval(milliseconds: 20))
        try dealer.connect(endpoint)

        try dealer.send(frames: [[UInt8](repeating: 1, count: 5000)])
        XCTAssertNil(try receive(router, within: 300), "a frame over ZMQ_MAXMSGSIZE is never delivered")

        // The receiver dropped the connection; the dealer reconnects and small frames flow again.
        var delivered: [[UInt8]]?
        for _ in 0..<10 where delivered == nil {
            try dealer.send(frames: [bytes("small")])
            delivered = try receive(router, within: 300)
        }
        let got = try XCTUnwrap(delivered, "a small frame arrives after the reconnect")
        XCTAssertEqual(Array(got.dropFirst()), [bytes("small")])
    }

    func testOptionsReadBackAsSet() throws {
        let context = try ZMQContext()
        let socket = try context.socket(.dealer, linger: 250)
        XCTAssertEqual(try socket.int32Option(.linger), 250)
        try socket.set(.maxMessageSize(bytes: 64 << 20))
        try socket.set(.sendHighWaterMark(17))
        try socket.set(.receiveHighWaterMark(19))
        try socket.set(.heartbeatInterval(milliseconds: 1000))
        try socket.set(.heartbeatTimeToLive(milliseconds: 5000))
        try socket.set(.heartbeatTimeout(milliseconds: 3000))
        try socket.set(.reconnectInterval(milliseconds: 100))
        try socket.set(.reconnectIntervalMax(milliseconds: 5000))
        try socket.set(.receiveTimeout(milliseconds: 40))
        XCTAssertEqual(try socket.int64Option(.maxMessageSize), 64 << 20)
        XCTAssertEqual(try socket.int32Option(.sendHighWaterMark), 17)
        XCTAssertEqual(try socket.int32Option(.receiveHighWaterMark), 19)
        XCTAssertEqual(try socket.int32Option(.heartbeatInterval), 1000)
        XCTAssertEqual(try socket.int32Option(.heartbeatTimeToLive), 5000)
        XCTAssertEqual(try socket.int32Option(.heartbeatTimeout), 3000)
        XCTAssertEqual(try socket.int32Option(.reconnectInterval), 100)
        XCTAssertEqual(try socket.int32Option(.reconnectIntervalMax), 5000)
        XCTAssertEqual(try socket.int32Option(.receiveTimeout), 40)
    }

    func testBlockingReceiveWithTimeoutThrowsAgain() throws {
        let context = try ZMQContext()
        let dealer = try context.socket(.dealer)
        try dealer.set(.receiveTimeout(milliseconds: 20))
        try dealer.bind("inproc://timeout")
        XCTAssertThrowsError(try dealer.receiveMessage()) { XCTAssertEqual($0 as? ZMQError, .again) }
    }

    func testClosedSocketRefusesUseWithATypedError() throws {
        let context = try ZMQContext()
        let socket = try context.socket(.dealer)
        socket.close()
        XCTAssertThrowsError(try socket.bind("inproc://closed")) { error in
            guard case .failed(_, let code, _)? = error as? ZMQError else { return XCTFail("\(error)") }
            XCTAssertEqual(code, ENOTSOCK)
        }
    }

    func testBindingABadEndpointReportsZmqStrerrorText() throws {
        let context = try ZMQContext()
        let socket = try context.socket(.router)
        XCTAssertThrowsError(try socket.bind("nonsense://x")) { error in
            guard case .failed(let op, _, let message)? = error as? ZMQError else { return XCTFail("\(error)") }
            XCTAssertTrue(op.contains("nonsense://x"), op)
            XCTAssertFalse(message.isEmpty)
        }
    }

    func testReceiveMessageRefusesTooManyFramesButConsumesThem() throws {
        let context = try ZMQContext()
        let pull = try context.socket(.pull)
        try pull.bind("inproc://frames")
        let push = try context.socket(.push)
        try push.connect("inproc://frames")
        try push.send(frames: Array(repeating: bytes("f"), count: 10))
        try push.send(frames: [bytes("next")])
        let poller = ZMQPoller()
        poller.add(pull)
        XCTAssertTrue(try poller.poll(timeoutMilliseconds: 2000)[0].contains(.readable))
        XCTAssertThrowsError(try pull.receiveMessage(dontWait: true, maxFrames: 4))
        XCTAssertEqual(try receive(pull), [bytes("next")], "the oversized message was consumed whole")
    }
}
