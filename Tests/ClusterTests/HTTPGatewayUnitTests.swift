import Foundation
import XCTest
import StableDiffusion
@testable import HTTPGateway

/// The gateway's pieces that need no cluster: A1111 names, lax field reading, keys, addresses.
final class HTTPGatewayUnitTests: XCTestCase {
    func testA1111SamplerAndScheduleNamesMapOntoTheSchedulersWeHave() {
        func kind(_ sampler: String, _ schedule: String? = nil) -> SchedulerKind? {
            try? SamplerNames.scheduler(sampler: sampler, schedule: schedule).get()
        }
        XCTAssertEqual(kind("DPM++ 2M"), .dpmpp2mKarras, "A1111's Automatic schedule for DPM++ 2M is Karras")
        XCTAssertEqual(kind("DPM++ 2M", "Karras"), .dpmpp2mKarras)
        XCTAssertEqual(kind("DPM++ 2M", "uniform"), .dpmpp2m)
        XCTAssertEqual(kind("DPM++ 2M Karras"), .dpmpp2mKarras, "the pre-1.9 name")
        XCTAssertEqual(kind("k_euler_a"), .eulerAncestral)
        XCTAssertEqual(kind("euler a", "Automatic"), .eulerAncestral)
        XCTAssertEqual(kind("Euler"), .euler)
        XCTAssertEqual(kind("DDIM", ""), .ddim)
        XCTAssertEqual(kind("PLMS"), .pndm)
        XCTAssertNil(kind("Euler", "Karras"), "Karras only with DPM++ 2M here")
        XCTAssertNil(kind("UniPC"))
        for sampler in SamplerNames.samplers {
            XCTAssertEqual(kind(sampler.name).map(\.samplerName).map { $0.hasPrefix(sampler.name) }, true,
                           "\(sampler.name) runs a scheduler the PNG names the same way")
        }
    }

    func testFieldsAreReadAsPydanticsLaxModeReadsThem() throws {
        let body = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(#"{"a": "12", "b": 3.0, "c": 2.5, "d": true, "e": null, "f": "yes", "g": 1}"#.utf8)) as? [String: Any])
        var r = FieldReader(body)
        XCTAssertEqual(r.int("a", default: 0), 12)
        XCTAssertEqual(r.int("b", default: 0), 3)
        XCTAssertEqual(r.int("e", default: 7), 7, "null is the default")
        XCTAssertEqual(r.bool("f", default: false), true)
        XCTAssertEqual(r.bool("g", default: false), true)
        XCTAssertEqual(r.double("a", default: 0), 12)
        XCTAssertTrue(r.problems.isEmpty, "\(r.problems)")
        _ = r.int("c", default: 0)
        _ = r.int("d", default: 0)
        _ = r.string("b", default: nil)
        XCTAssertEqual(r.problems.map(\.type), ["int_from_float", "int_type", "string_type"])
        XCTAssertEqual(r.problems.map(\.location), [["c"], ["d"], ["b"]])
    }

    func testCheckpointTitlesBecomeModelNames() {
        XCTAssertEqual(Txt2ImgRequest.checkpointName("v1-5-pruned-emaonly.safetensors [6ce0161689]"), "v1-5-pruned-emaonly")
        XCTAssertEqual(Txt2ImgRequest.checkpointName("shapes"), "shapes")
        XCTAssertEqual(Txt2ImgRequest.checkpointName("old.ckpt"), "old")
    }

    func testTxt2ImgDefaultsAreA1111sAndImagesGetSeedPlusIndex() throws {
        let parsed = try Txt2ImgRequest.parse(["prompt": "p", "seed": 40, "batch_size": 2, "n_iter": 2],
                                              defaults: Txt2ImgDefaults(guidanceCutoff: 0.4)).get()
        XCTAssertEqual(parsed.steps, 50)
        XCTAssertEqual(parsed.cfgScale, 7)
        XCTAssertEqual(parsed.scheduler, .euler, "sampler_index defaults to Euler")
        XCTAssertNil(parsed.width, "the model's native size")
        let requests = parsed.generationRequests(seed: 40)
        XCTAssertEqual(requests.map(\.seed), [40, 41, 42, 43])
        XCTAssertEqual(requests.map(\.guidanceCutoff), [0.4, 0.4, 0.4, 0.4], "--guidance-cutoff fills in")
        XCTAssertThrowsError(try Txt2ImgRequest.parse(["seed": -2, "guidance_cutoff": 2, "late_pass": "x"], defaults: Txt2ImgDefaults()).get()) { error in
            XCTAssertEqual((error as? FieldProblems)?.all.map(\.location), [["seed"], ["guidance_cutoff"], ["late_pass"]])
        }
    }

    func testKeyFilesAndAddresses() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("keys-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let good = folder.appendingPathComponent("good")
        try "# comment\nalice 0123456789abcdef\n\nfedcba9876543210fedcba\n".write(to: good, atomically: true, encoding: .utf8)
        let keys = try APIKeys.load(good.path)
        XCTAssertEqual(keys.caller(authorization: "Bearer 0123456789abcdef"), "alice")
        XCTAssertEqual(keys.caller(authorization: "bearer fedcba9876543210fedcba"), "key-line-4")
        XCTAssertNil(keys.caller(authorization: "Bearer 0123456789abcdeF"))
        XCTAssertNil(keys.caller(authorization: "Basic 0123456789abcdef"))
        XCTAssertNil(keys.caller(authorization: nil))
        let short = folder.appendingPathComponent("short")
        try "bob shortkey\n".write(to: short, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try APIKeys.load(short.path)) { XCTAssertTrue("\($0)".contains("line 1"), "\($0)") }

        XCTAssertEqual(try GatewayOptions.parseAddress("7860").host, "127.0.0.1")
        XCTAssertEqual(try GatewayOptions.parseAddress(":7860").port, 7860)
        XCTAssertEqual(try GatewayOptions.parseAddress("0.0.0.0:80").host, "0.0.0.0")
        XCTAssertEqual(try GatewayOptions.parseAddress("[::1]:8080").host, "::1")
        XCTAssertThrowsError(try GatewayOptions.parseAddress("host:port"))
        XCTAssertTrue(GatewayOptions.isLoopback("127.0.0.1"))
        XCTAssertFalse(GatewayOptions.isLoopback("0.0.0.0"))
        XCTAssertEqual(CoordinatorLink.connectable("tcp://0.0.0.0:7430"), "tcp://127.0.0.1:7430")
    }
}
