import XCTest
import Compute
import StableDiffusion
@testable import Cluster

/// Every way decoding refuses a message, and the ERROR code each refusal turns into.
final class ProtocolRefusalTests: XCTestCase {
    private func refusal<T>(_ body: () throws -> T, file: StaticString = #filePath, line: UInt = #line) -> ProtocolError? {
        do {
            _ = try body()
            XCTFail("decoding succeeded but should have been refused", file: file, line: line)
            return nil
        } catch let error as ProtocolError {
            return error
        } catch {
            XCTFail("refused with \(error), not a ProtocolError", file: file, line: line)
            return nil
        }
    }

    private var heartbeat: [[UInt8]] { WorkerToCoordinator.heartbeat.encode() }

    func testWrongSignatureIsRefused() {
        let error = refusal { try WorkerToCoordinator.decode(replacing(heartbeat, at: 0, with: Array("HTTP".utf8))) }
        XCTAssertEqual(error, .badSignature(found: Array("HTTP".utf8)))
        XCTAssertEqual(error?.code, .badSignature)
        XCTAssertEqual(refusal { try WorkerToCoordinator.decode(replacing(heartbeat, at: 0, with: Array("SDC10".utf8))) }?.code,
                       .badSignature, "a longer signature frame is not ours either")
        XCTAssertEqual(refusal { try WorkerToCoordinator.decode(replacing(heartbeat, at: 0, with: [])) }?.code, .badSignature)
    }

    func testOtherVersionIsRefused() {
        let error = refusal { try WorkerToCoordinator.decode(replacing(heartbeat, at: 0, with: Array("SDC1".utf8))) }
        XCTAssertEqual(error, .unsupportedVersion(found: "1"))
        XCTAssertEqual(error?.code, .unsupportedVersion)
    }

    func testUnknownTypeIsRefused() {
        let error = refusal { try WorkerToCoordinator.decode(replacing(heartbeat, at: 1, with: Array("PING".utf8))) }
        XCTAssertEqual(error, .unknownMessageType("PING"))
        XCTAssertEqual(error?.code, .unknownType)
    }

    func testKnownTypeOnTheWrongSocketIsRefused() {
        let submit = ClientToCoordinator.submit(Samples.submit).encode()
        XCTAssertEqual(refusal { try WorkerToCoordinator.decode(submit) }?.code, .unexpectedType)
        let task = CoordinatorToWorker.vaeDecodeTask(Samples.vaeTask).encode()
        XCTAssertEqual(refusal { try ClientToCoordinator.decode(task) }?.code, .unexpectedType)
        XCTAssertEqual(refusal { try CoordinatorToClient.decode(task) }?.code, .unexpectedType)
        let ready = WorkerToCoordinator.ready(Samples.ready).encode()
        XCTAssertEqual(refusal { try CoordinatorToWorker.decode(ready) }?.code, .unexpectedType)
    }

    func testTooFewFramesAreRefused() {
        XCTAssertEqual(refusal { try WorkerToCoordinator.decode(Array(heartbeat.prefix(2))) }, .tooFewFrames(count: 2))
        XCTAssertEqual(refusal { try WorkerToCoordinator.decode([]) }, .tooFewFrames(count: 0))
    }

    func testTooManyFramesAreRefused() {
        let limits = ProtocolLimits(maxFrames: 8)
        let frames = heartbeat + Array(repeating: [UInt8](), count: 6)
        XCTAssertEqual(refusal { try WorkerToCoordinator.decode(frames, limits: limits) }, .tooManyFrames(count: 9, limit: 8))
    }

    func testOversizedHeaderIsRefused() {
        let big = Disconnect(reason: String(repeating: "x", count: 70_000))
        let error = refusal { try WorkerToCoordinator.decode(WorkerToCoordinator.disconnect(big).encode()) }
        XCTAssertEqual(error?.code, .headerTooLarge)
    }

    func testHeaderThatIsNotJSONIsRefused() {
        let error = refusal { try WorkerToCoordinator.decode(replacing(heartbeat, at: 2, with: Array("{not json".utf8))) }
        guard case .headerNotJSON? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertEqual(error?.code, .badHeader)
        XCTAssertEqual(refusal { try WorkerToCoordinator.decode(replacing(heartbeat, at: 2, with: [0xFF, 0xFE])) }?.code, .badHeader)
        XCTAssertEqual(refusal { try WorkerToCoordinator.decode(replacing(heartbeat, at: 2, with: Array("[1,2]".utf8))) }?.code,
                       .badHeader, "a JSON array is not a header object")
    }

    func testMissingFieldsAreNamed() {
        let ready = replacing(WorkerToCoordinator.ready(Samples.ready).encode(), at: 2, with: Array(#"{"name":"w","threads":2,"maxBatch":1}"#.utf8))
        XCTAssertEqual(refusal { try WorkerToCoordinator.decode(ready) }, .missingField("models"))
        var frames = CoordinatorToWorker.unetTask(Samples.unetTask).encode()
        let header = String(decoding: frames[2], as: UTF8.self).replacingOccurrences(of: #","timestep":761"#, with: "")
        frames[2] = Array(header.utf8)
        XCTAssertEqual(refusal { try CoordinatorToWorker.decode(frames) }, .missingField("items[0].timestep"))
    }

    /// A header announcing a pooled embedding whose frame is missing, a pooled embedding that is
    /// not `[1, width]`, and time ids that are not six finite numbers are refused.
    func testMalformedSDXLConditioningIsRefused() throws {
        var frames = WorkerToCoordinator.textEncodeResult(Samples.textResultSDXL).encode()
        frames.removeLast()
        XCTAssertEqual(refusal { try WorkerToCoordinator.decode(frames) }, .payloadCountMismatch(expected: 4, found: 3))
        var wide = Samples.textResultSDXL
        wide.embeddings[0].conditioning.pooled = sampleTensor([2, 6])
        guard case .invalidField(let field, _)? = refusal({ try WorkerToCoordinator.decode(WorkerToCoordinator.textEncodeResult(wide).encode()) }) else {
            return XCTFail("a [2, 6] pooled embedding was accepted")
        }
        XCTAssertEqual(field, "embeddings[0].pooled")
        for bad: [Float] in [[1, 2, 3], [128, 96, 0, 0, 128, .infinity]] {
            var task = Samples.unetTaskSDXL
            task.items[1].timeIds = bad
            guard case .invalidField(let field, _)? = refusal({ try CoordinatorToWorker.decode(CoordinatorToWorker.unetTask(task).encode()) }) else {
                return XCTFail("time ids \(bad) were accepted")
            }
            XCTAssertTrue(field.hasPrefix("items[1].timeIds"), field)
        }
    }

    func testInvalidFieldValuesAreRefused() {
        var bad = Samples.ready
        bad.maxBatch = 0
        XCTAssertEqual(refusal { try WorkerToCoordinator.decode(WorkerToCoordinator.ready(bad).encode()) }?.code, .badHeader)
        var task = Samples.unetTask
        task.items[0].timestep = .nan
        let error = refusal { try CoordinatorToWorker.decode(CoordinatorToWorker.unetTask(task).encode()) }
        guard case .invalidField(let field, _)? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertEqual(field, "items[0].timestep", "a NaN in a header is written as a string and refused")
        var slot = CoordinatorToWorker.unetTask(Samples.unetTask).encode()
        slot[2] = Array(String(decoding: slot[2], as: UTF8.self).replacingOccurrences(of: #""slot":"cond""#, with: #""slot":"both""#).utf8)
        XCTAssertEqual(refusal { try CoordinatorToWorker.decode(slot) }?.code, .badHeader, "unknown text slot")
    }

    func testPayloadCountMustMatchTheHeader() {
        let frames = WorkerToCoordinator.unetResult(Samples.unetResult).encode()
        XCTAssertEqual(refusal { try WorkerToCoordinator.decode(Array(frames.dropLast())) }, .payloadCountMismatch(expected: 2, found: 1))
        XCTAssertEqual(refusal { try WorkerToCoordinator.decode(frames + [[0, 0, 0, 0]]) }, .payloadCountMismatch(expected: 2, found: 3))
        XCTAssertEqual(refusal { try WorkerToCoordinator.decode(heartbeat + [[1]]) }?.code, .badFrames)
    }

    func testTensorFrameWithWrongByteCountIsRefused() {
        var frames = CoordinatorToWorker.vaeDecodeTask(Samples.vaeTask).encode()
        frames[3].removeLast()
        XCTAssertEqual(refusal { try CoordinatorToWorker.decode(frames) },
                       .tensorSizeMismatch(field: "latent", expectedBytes: 256, foundBytes: 255))
        XCTAssertEqual(ProtocolError.tensorSizeMismatch(field: "latent", expectedBytes: 256, foundBytes: 255).code, .badTensor)
    }

    func testUnacceptableTensorShapesAreRefused() {
        let spec = { (shape: [Int]) in TensorSpec(dtype: .f32, shape: shape) }
        let limits = ProtocolLimits(maxTensorBytes: 1 << 20, maxTensorRank: 4)
        XCTAssertEqual(refusal { try WireTensor.decode([], spec: spec([]), field: "x", limits: limits) }?.code, .badTensor)
        XCTAssertEqual(refusal { try WireTensor.decode([], spec: spec([1, 0, 4]), field: "x", limits: limits) }?.code, .badTensor)
        XCTAssertEqual(refusal { try WireTensor.decode([], spec: spec([1, -4]), field: "x", limits: limits) }?.code, .badTensor)
        XCTAssertEqual(refusal { try WireTensor.decode([], spec: spec([1, 1, 1, 1, 1]), field: "x", limits: limits) }?.code, .badTensor)
        XCTAssertEqual(refusal { try WireTensor.decode([], spec: spec([1 << 40, 1 << 40]), field: "x", limits: limits) }?.code,
                       .tooLarge, "an overflowing shape is refused, not multiplied")
        XCTAssertEqual(refusal { try WireTensor.decode([], spec: spec([512, 1024]), field: "x", limits: limits) },
                       .tensorTooLarge(field: "x", bytes: 2 << 20, limit: 1 << 20))
    }

    func testNonFiniteTensorValuesAreRefused() {
        for bad: Float in [.nan, .infinity, -.infinity] {
            var task = Samples.vaeTask
            let values = (0..<64).map { $0 == 17 ? bad : Float($0) }
            task.latent = WireTensor(Tensor(shape: [1, 4, 4, 4], values: values))
            let error = refusal { try CoordinatorToWorker.decode(CoordinatorToWorker.vaeDecodeTask(task).encode()) }
            XCTAssertEqual(error, .nonFiniteTensor(field: "latent", elementIndex: 17))
            XCTAssertEqual(error?.code, .nonFinite)
        }
        let long = (0..<3000).map { $0 == 2500 ? Float.infinity : Float($0) }
        let frame = WireTensor(Tensor(shape: [3000], values: long)).encodedFrame()
        XCTAssertEqual(refusal { try WireTensor.decode(frame, spec: TensorSpec(dtype: .f32, shape: [3000]), field: "l") },
                       .nonFiniteTensor(field: "l", elementIndex: 2500), "found past the first scan block")
        let bf16NaN: [UInt8] = [0x80, 0x3F, 0xC0, 0x7F]  // 1.0, NaN
        XCTAssertEqual(refusal { try WireTensor.decode(bf16NaN, spec: TensorSpec(dtype: .bf16, shape: [2]), field: "p") },
                       .nonFiniteTensor(field: "p", elementIndex: 1))
    }

    func testSubmitPayloadProblemsAreRefused() {
        let frames = ClientToCoordinator.submit(Samples.submit).encode()
        var short = frames
        short[3].removeLast()
        XCTAssertEqual(refusal { try ClientToCoordinator.decode(short) }?.code, .tooLarge, "announced size disagrees")

        let notJSON = Array("prompt: cat".utf8)
        var header = try! JSONSerialization.jsonObject(with: Data(frames[2])) as! [String: Any]
        header["requestBytes"] = notJSON.count
        let rewritten = [frames[0], frames[1], Array(try! JSONSerialization.data(withJSONObject: header)), notJSON]
        guard case .badBlob(let field, _)? = refusal({ try ClientToCoordinator.decode(rewritten) }) else { return XCTFail() }
        XCTAssertEqual(field, "requests")

        let missingPrompt = Array(#"[{"seed":1}]"#.utf8)
        header["requestBytes"] = missingPrompt.count
        header["count"] = 1
        let noPrompt = [frames[0], frames[1], Array(try! JSONSerialization.data(withJSONObject: header)), missingPrompt]
        XCTAssertEqual(refusal { try ClientToCoordinator.decode(noPrompt) }, .missingField("requests[0].prompt"))

        header["count"] = 5
        header["requestBytes"] = frames[3].count
        let wrongCount = [frames[0], frames[1], Array(try! JSONSerialization.data(withJSONObject: header)), frames[3]]
        guard case .invalidField("count", _)? = refusal({ try ClientToCoordinator.decode(wrongCount) }) else { return XCTFail() }

        let limits = ProtocolLimits(maxBlobBytes: 16)
        XCTAssertEqual(refusal { try ClientToCoordinator.decode(frames, limits: limits) }?.code, .tooLarge)
    }

    func testDecodedPixelsMustMatchTheirHeader() {
        let good = WorkerToCoordinator.vaeDecodeResult(Samples.vaeResult).encode()
        XCTAssertEqual(good[3].count, 5 * 3 * 3, "RESULT-VAE's frame is width * height * 3 bytes")
        var short = good
        short[3].removeLast()
        XCTAssertEqual(refusal { try WorkerToCoordinator.decode(short) },
                       .tensorSizeMismatch(field: "image", expectedBytes: 45, foundBytes: 44))
        var long = good
        long[3].append(0)
        XCTAssertEqual(refusal { try WorkerToCoordinator.decode(long) }?.code, .badTensor)
        func header(_ size: String) -> [UInt8] { bytes(#"{"taskId":"t3","imageId":"b1/0","computeSeconds":0.3,"# + size + "}") }
        // A header announcing another size than the frame carries.
        XCTAssertEqual(refusal { try WorkerToCoordinator.decode(replacing(good, at: 2, with: header(#""width":4,"height":3"#))) },
                       .tensorSizeMismatch(field: "image", expectedBytes: 36, foundBytes: 45))
        // 3x5 has the bytes of 5x3: it decodes, and the coordinator's shape check refuses it.
        guard case .vaeDecodeResult(let swapped)? = try? WorkerToCoordinator.decode(replacing(good, at: 2, with: header(#""width":3,"height":5"#)))
        else { return XCTFail() }
        XCTAssertEqual(swapped.image.imageShape, [1, 3, 5, 3])
        guard case .invalidField("width", _)? = refusal({ try WorkerToCoordinator.decode(replacing(good, at: 2, with: header(#""width":0,"height":3"#))) })
        else { return XCTFail() }
        guard case .invalidField("height", _)? = refusal({ try WorkerToCoordinator.decode(replacing(good, at: 2, with: header(#""width":5,"height":-3"#))) })
        else { return XCTFail() }
        XCTAssertEqual(refusal { try WorkerToCoordinator.decode(replacing(good, at: 2, with: header(#""width":100000,"height":100000"#))) }?.code,
                       .tooLarge)
        // A version-1 header (a float tensor spec, no width or height) is refused.
        XCTAssertEqual(refusal { try WorkerToCoordinator.decode(replacing(good, at: 2, with: header(#""image":{"dtype":"f32","shape":[1,3,3,5]}"#))) }?.code,
                       .badHeader)
        // The answered task is still known, so the coordinator counts a failed attempt.
        XCTAssertEqual(WorkerToCoordinator.answeredTaskId(short), "t3")
    }

    func testResultPNGSizeMustMatchTheHeader() {
        var frames = CoordinatorToClient.result(Samples.finished).encode()
        frames[3].append(0)
        XCTAssertEqual(refusal { try CoordinatorToClient.decode(frames) }?.code, .tooLarge)
    }

    func testEveryRefusalBecomesAnErrorReplyThatDecodes() throws {
        let error = ProtocolError.nonFiniteTensor(field: "items[1].latent", elementIndex: 3)
        let reply = ErrorReply(error, inReplyTo: .unetTask)
        XCTAssertEqual(reply.code, .nonFinite)
        XCTAssertEqual(reply.inReplyTo, "TASK-UNET")
        XCTAssertTrue(reply.message.contains("items[1].latent"), reply.message)
        XCTAssertEqual(try CoordinatorToClient.decode(CoordinatorToClient.error(reply).encode()), .error(reply))
        let unknownCode = ErrorReply(code: ErrorCode(rawValue: "from-the-future"), message: "m")
        XCTAssertEqual(try WorkerToCoordinator.decode(WorkerToCoordinator.error(unknownCode).encode()), .error(unknownCode),
                       "codes this build does not know still decode")
    }
}
