import XCTest
@testable import Cluster

/// Receives one message if it arrives within `milliseconds`, else nil (never blocks forever).
func receive(_ socket: ZMQSocket, within milliseconds: Int = 2000) throws -> [[UInt8]]? {
    let poller = ZMQPoller()
    poller.add(socket)
    let ready = try poller.poll(timeoutMilliseconds: milliseconds)
    guard ready[0].contains(.readable) else { return nil }
    return try socket.receiveMessage(dontWait: true)
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// A ROUTER bound to a fresh loopback port, and its resolved endpoint.
func boundRouter(_ context: ZMQContext, options: [ZMQSocketOption] = []) throws -> (ZMQSocket, String) {
    let router = try context.socket(.router)
    for option in options { try router.set(option) }
    try router.bind("tcp://127.0.0.1:*")
    return (router, try router.lastEndpoint)
}
