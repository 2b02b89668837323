import Foundation
import XCTest
import StableDiffusion
@testable import Cluster

/// One request, one verdict: a prompt file's line, SUBMIT decoding and `Sampler.prepare` refuse
/// the same bad requests with the same field and message, and accept the same good ones.
final class RequestVerdictTests: XCTestCase {
    private let good = GenerationRequest(prompt: "a red circle", seed: 1, steps: 10, guidanceScale: 7.5)

    /// The first problem each path reports as (field, message), or nil when it accepts.
    private func verdicts(_ request: GenerationRequest) throws -> (file: String?, submit: String?, sampler: String?) {
        let line = String(decoding: try JSONEncoder().encode(request), as: UTF8.self)
        var file: String?
        do { _ = try PromptFile.parse(text: line, defaults: good, format: .jsonLines) } catch let error as PromptFileError {
            file = error.problems.first?.message
        }
        var submit: String?
        let frames = ClientToCoordinator.submit(SubmitBatch(clientBatchName: "v", submissionId: "s1", requests: [request])).encode()
        do { _ = try ClientToCoordinator.decode(frames) } catch let ProtocolError.invalidField(path, reason) {
            XCTAssertTrue(path.hasPrefix("requests[0]."), path)
            submit = reason
        }
        var sampler: String?
        do { _ = try Sampler.prepare(request, model: try XCTUnwrap(SimulatedEngine(unetSeconds: 0).models[0].info)) } catch let error as InvalidRequest {
            sampler = error.problems.first?.message
        }
        return (file, submit, sampler)
    }

    func testPromptFilesSubmitDecodingAndTheSamplerGiveTheSameVerdict() throws {
        func with(_ change: (inout GenerationRequest) -> Void) -> GenerationRequest {
            var request = good
            change(&request)
            return request
        }
        let bad = [with { $0.steps = 0 }, with { $0.steps = 1001 }, with { $0.guidanceScale = -1 },
                   with { $0.guidanceCutoff = 1.5 }, with { $0.width = 100 }, with { $0.height = 0 },
                   with { $0.prompt = String(repeating: "x", count: RequestValidation.maximumTextBytes + 1) }]
        for request in bad {
            let v = try verdicts(request)
            XCTAssertNotNil(v.file, "\(request)")
            XCTAssertEqual(v.file, v.submit, "\(request)")
            XCTAssertEqual(v.file, v.sampler, "\(request)")
        }
        let v = try verdicts(with { $0.width = 72; $0.height = 120 })
        XCTAssertNil(v.file ?? v.submit ?? v.sampler, "a good request passes everywhere")
    }

    func testSubmitDecodingNamesTheRequestAndField() {
        var request = good
        request.guidanceCutoff = 2
        let frames = ClientToCoordinator.submit(SubmitBatch(clientBatchName: "v", submissionId: "s1", requests: [good, request])).encode()
        XCTAssertThrowsError(try ClientToCoordinator.decode(frames)) {
            XCTAssertEqual($0 as? ProtocolError, .invalidField("requests[1].guidance_cutoff", reason: "guidance_cutoff must be within [0, 1], not 2.0"))
        }
    }
}
