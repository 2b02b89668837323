import XCTest
@testable import Cluster

final class ZMQCurveTests: XCTestCase {
    override func setUpWithError() throws {
        // Debian's libzmq5 is built with CURVE (libsodium); without it these tests must fail.
        XCTAssertTrue(ZMQLibrary.has("curve"), "libzmq built without CURVE")
    }

    func testZ85RoundTripsAndRefusesBadInput() throws {
        let raw: [UInt8] = (0..<32).map { UInt8($0 * 7 & 0xFF) }
        let text = try Z85.encode(raw)
        XCTAssertEqual(text.count, 40)
        XCTAssertEqual(try Z85.decode(text), raw)
        // The example from the Z85 specification (rfc.zeromq.org/spec/32).
        XCTAssertEqual(try Z85.encode([0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B]), "HelloWorld")
        XCTAssertThrowsError(try Z85.encode([1, 2, 3]))
        XCTAssertThrowsError(try Z85.decode("abcd"))
        XCTAssertThrowsError(try CurveKey(z85: "too short"))
        XCTAssertThrowsError(try CurveKey(bytes: [1, 2]))
    }

    func testKeypairPublicKeyDerivesFromItsSecretKey() throws {
        let pair = try CurveKeyPair.generate()
        XCTAssertNotEqual(pair.publicKey, pair.secretKey)
        XCTAssertEqual(try CurveKeyPair.derive(from: pair.secretKey), pair)
        XCTAssertEqual(try CurveKey(z85: pair.publicKey.z85), pair.publicKey)
        XCTAssertFalse(pair.secretKey.description.contains(pair.secretKey.z85), "logs never show a whole key")
    }

    func testCurveHandshakeSucceedsWithTheServersKey() throws {
        let server = try CurveKeyPair.generate(), client = try CurveKeyPair.generate()
        let context = try ZMQContext()
        let (router, endpoint) = try curveServer(context, keys: server)
        let dealer = try curveClient(context, keys: client, serverKey: server.publicKey, endpoint: endpoint)
        try dealer.send(frames: [bytes("secret hello")])
        let got = try XCTUnwrap(try receive(router, within: 3000), "encrypted message delivered")
        XCTAssertEqual(Array(got.dropFirst()), [bytes("secret hello")])
        XCTAssertEqual(try router.int32Option(.mechanism), 2, "ZMQ_CURVE mechanism in use")
    }

    func testCurveHandshakeFailsWithAWrongServerKey() throws {
        let server = try CurveKeyPair.generate(), client = try CurveKeyPair.generate()
        let impostor = try CurveKeyPair.generate()
        let context = try ZMQContext()
        let (router, endpoint) = try curveServer(context, keys: server)
        let dealer = try curveClient(context, keys: client, serverKey: impostor.publicKey, endpoint: endpoint)
        try dealer.send(frames: [bytes("secret hello")])
        XCTAssertNil(try receive(router, within: 700), "no message passes a failed handshake")

        // Control: a plain (non-CURVE) client is refused by the CURVE server as well.
        let plain = try context.socket(.dealer)
        try plain.connect(endpoint)
        try plain.send(frames: [bytes("plain hello")])
        XCTAssertNil(try receive(router, within: 500))
    }

    private func curveServer(_ context: ZMQContext, keys: CurveKeyPair) throws -> (ZMQSocket, String) {
        try boundRouter(context, options: [.curveServer(true), .curveSecretKey(keys.secretKey),
                                           .curvePublicKey(keys.publicKey)])
    }

    private func curveClient(_ context: ZMQContext, keys: CurveKeyPair, serverKey: CurveKey,
                             endpoint: String) throws -> ZMQSocket {
        let dealer = try context.socket(.dealer)
        try dealer.set(.curveServerKey(serverKey))
        try dealer.set(.curvePublicKey(keys.publicKey))
        try dealer.set(.curveSecretKey(keys.secretKey))
        try dealer.connect(endpoint)
        return dealer
    }
}
