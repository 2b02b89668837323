import XCTest
import Compute
import StableDiffusion
@testable import Cluster

final class ProtocolRoundTripTests: XCTestCase {
    func testEveryWorkerToCoordinatorMessageRoundTrips() throws {
        let messages: [WorkerToCoordinator] = [
            .ready(Samples.ready), .heartbeat, .disconnect(Disconnect(reason: "SIGTERM")), .disconnect(Disconnect()),
            .textEncodeResult(Samples.textResult), .textEncodeResult(Samples.textResultSDXL), .unetResult(Samples.unetResult), .vaeDecodeResult(Samples.vaeResult),
            .missingEmbedding(MissingEmbedding(taskId: "t2", embeddingIds: ["b1/0/c"])),
            .error(ErrorReply(code: .unknownModel, message: "no model sd-xl here", inReplyTo: "TASK-UNET", taskId: "t9")),
        ]
        for message in messages {
            XCTAssertEqual(try WorkerToCoordinator.decode(message.encode()), message)
        }
    }

    func testEveryCoordinatorToWorkerMessageRoundTrips() throws {
        let messages: [CoordinatorToWorker] = [
            .textEncodeTask(Samples.textTask), .textEncodeTask(Samples.textTaskWithEncoding),
            .unetTask(Samples.unetTask), .unetTask(Samples.unetTaskSDXL), .vaeDecodeTask(Samples.vaeTask),
            .heartbeat, .disconnect(Disconnect(reason: "coordinator stopping")),
            .error(ErrorReply(code: .badTensor, message: "x")),
        ]
        for message in messages {
            XCTAssertEqual(try CoordinatorToWorker.decode(message.encode()), message)
        }
    }

    func testEveryClientToCoordinatorMessageRoundTrips() throws {
        let messages: [ClientToCoordinator] = [
            .submit(Samples.submit), .status(StatusQuery()), .status(StatusQuery(batchId: "b1")),
            .cancel(CancelBatch(batchId: "b1")), .fetch(FetchResults(batchId: "b1", since: 4, waitMilliseconds: 1000)),
            .fetch(FetchResults(batchId: "b1", since: 4, waitMilliseconds: 0, limit: 1)),
        ]
        for message in messages {
            XCTAssertEqual(try ClientToCoordinator.decode(message.encode()), message)
        }
    }

    func testEveryCoordinatorToClientMessageRoundTrips() throws {
        let messages: [CoordinatorToClient] = [
            .accepted(BatchAccepted(batchId: "b1", clientBatchName: "p", submissionId: "u", count: 2)),
            .progress(BatchProgress(batchId: "b1", counts: ImageCounts(queued: 1, done: 4, cancelled: 2), nextSince: 4)),
            .result(Samples.finished), .result(Samples.failed), .statusReply(Samples.status),
            .error(ErrorReply(code: .noWorkerForModel, message: "no worker hosts sd-xl", inReplyTo: "SUBMIT")),
        ]
        for message in messages {
            XCTAssertEqual(try CoordinatorToClient.decode(message.encode()), message)
        }
    }

    /// SDXL's pooled embeddings follow their embeddings frame by frame; an attached
    /// conditioning without one (the other family's or a zero one) takes a single frame.
    func testPooledEmbeddingsFollowTheirEmbeddingsAndTimeIdsRideInTheHeader() throws {
        let text = WorkerToCoordinator.textEncodeResult(Samples.textResultSDXL).encode()
        XCTAssertEqual(text.count, 3 + 4, "two embeddings, each followed by its pooled embedding")
        XCTAssertEqual(text[4], Samples.textResultSDXL.embeddings[0].conditioning.pooled?.encodedFrame())
        XCTAssertEqual(text[5], Samples.textResultSDXL.embeddings[1].conditioning.embedding.encodedFrame())
        let task = CoordinatorToWorker.unetTask(Samples.unetTaskSDXL).encode()
        XCTAssertEqual(task.count, 3 + 2 + 3, "two latents, an embedding with its pooled one, an embedding alone")
        XCTAssertEqual(task[6], Samples.unetTaskSDXL.embeddings[0].conditioning.pooled?.encodedFrame())
        let header = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(task[2])) as? [String: Any])
        let items = try XCTUnwrap(header["items"] as? [[String: Any]])
        XCTAssertEqual(items[0]["timeIds"] as? [Double], [128, 96, 0, 0, 128, 96])
        // An SD 1.x task's header has no time ids (version 3 workers never saw the key).
        let plain = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(CoordinatorToWorker.unetTask(Samples.unetTask).encode()[2])) as? [String: Any])
        XCTAssertNil((plain["items"] as? [[String: Any]])?.first?["timeIds"])
    }

    func testFrameLayoutIsSignatureTypeHeaderThenPayloadsInHeaderOrder() throws {
        let frames = CoordinatorToWorker.unetTask(Samples.unetTask).encode()
        XCTAssertEqual(frames[0], Array("SDC4".utf8))
        XCTAssertEqual(frames[1], Array("TASK-UNET".utf8))
        let header = try JSONSerialization.jsonObject(with: Data(frames[2])) as? [String: Any]
        XCTAssertEqual((header?["items"] as? [Any])?.count, 3)
        XCTAssertEqual(frames.count, 3 + 3 + 1, "three latents then one embedding")
        XCTAssertEqual(frames[3], Samples.unetTask.items[0].latent.encodedFrame())
        XCTAssertEqual(frames[5].count, 4 * 4 * 4 * 2, "bf16 latent takes two bytes per value")
        XCTAssertEqual(frames[6], Samples.unetTask.embeddings[0].conditioning.embedding.encodedFrame())
    }

    func testFloat32FramesAreLittleEndianIEEE() {
        let t = WireTensor(Tensor(shape: [2], values: [1.0, -2.0]))
        XCTAssertEqual(t.encodedFrame(), [0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0])
    }

    func testFloat32RoundTripIsBitExactIncludingSubnormalsAndNegativeZero() throws {
        let values: [Float] = [0, -0.0, .leastNonzeroMagnitude, .greatestFiniteMagnitude, -1e-30, 3.1415927]
        let t = WireTensor(Tensor(shape: [6], values: values))
        let back = try WireTensor.decode(t.encodedFrame(), spec: t.spec, field: "t")
        XCTAssertEqual(back.tensor.values.map(\.bitPattern), values.map(\.bitPattern))
    }

    func testBFloat16FramesRoundToNearestEven() throws {
        // The rounding itself is Compute's BFloat16 (tested there); here: it is what goes on the wire.
        let t = WireTensor(Tensor(shape: [3], values: [1.0, Float(bitPattern: 0x3F81_8000), -2.0]), dtype: .bf16)
        XCTAssertEqual(t.encodedFrame(), [0x80, 0x3F, 0x82, 0x3F, 0x00, 0xC0])
        let back = try WireTensor.decode(t.encodedFrame(), spec: t.spec, field: "t")
        XCTAssertEqual(back.tensor.values, [1.0, Float(bitPattern: 0x3F82_0000), -2.0])
    }

    func testRoutedFramesSplitAndRejoinTheIdentity() throws {
        let message = WorkerToCoordinator.heartbeat.encode()
        let routed = try RoutedFrames(received: [Array("id-1".utf8)] + message)
        XCTAssertEqual(routed.identity, Array("id-1".utf8))
        XCTAssertEqual(routed.frames, message)
        XCTAssertEqual(routed.toSend, [Array("id-1".utf8)] + message)
        XCTAssertThrowsError(try RoutedFrames(received: [Array("id-1".utf8)]))
    }

    func testMessagesTravelThroughRealSockets() throws {
        let context = try ZMQContext()
        let router = try context.socket(.router)
        try router.bind("inproc://protocol")
        let dealer = try context.socket(.dealer)
        try dealer.connect("inproc://protocol")
        try dealer.send(frames: WorkerToCoordinator.unetResult(Samples.unetResult).encode())
        let routed = try RoutedFrames(received: try XCTUnwrap(try receive(router)))
        XCTAssertEqual(try WorkerToCoordinator.decode(routed.frames), .unetResult(Samples.unetResult))
        try router.send(frames: RoutedFrames(identity: routed.identity, frames: CoordinatorToWorker.vaeDecodeTask(Samples.vaeTask).encode()).toSend)
        XCTAssertEqual(try CoordinatorToWorker.decode(try XCTUnwrap(try receive(dealer))), .vaeDecodeTask(Samples.vaeTask))
    }
}

extension ProtocolRoundTripTests {
    /// TASK-TEXT's `promptSyntax` and `clipSkip` are left out of the header when unset, so a
    /// request that sets neither sends the bytes it always sent.
    func testTextTaskEncodingFieldsAreOmittedWhenUnset() throws {
        let plain = String(decoding: HeaderCoding.encode(Samples.textTask), as: UTF8.self)
        XCTAssertFalse(plain.contains("promptSyntax") || plain.contains("clipSkip"), plain)
        let set = String(decoding: HeaderCoding.encode(Samples.textTaskWithEncoding), as: UTF8.self)
        XCTAssertTrue(set.contains("\"promptSyntax\":\"literal\"") && set.contains("\"clipSkip\":2"), set)
        XCTAssertEqual(Samples.textTaskWithEncoding.encoding, TextEncoding(syntax: .literal, clipSkip: 2))
    }
}
