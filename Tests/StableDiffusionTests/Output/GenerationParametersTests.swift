import XCTest
@testable import StableDiffusion

/// The PNG `parameters` text: AUTOMATIC1111's layout (facts.md) and reading it back.
final class GenerationParametersTests: XCTestCase {
    private func request(prompt: String = "a photo of a cat", negative: String = "") -> GenerationRequest {
        GenerationRequest(prompt: prompt, negativePrompt: negative, seed: 42, steps: 20, guidanceScale: 7.5,
                          scheduler: .ddim, width: 512, height: 512, model: "sd-v1-5")
    }

    private func assertRoundTrip(_ parameters: GenerationParameters, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(try GenerationParameters(parsing: parameters.text), parameters, file: file, line: line)
    }

    func testFormatsTheWebUIExampleLinesThenSDClusterKeys() {
        let text = GenerationParameters(request: request(negative: "blurry")).text
        XCTAssertEqual(text, """
            a photo of a cat
            Negative prompt: blurry
            Steps: 20, Sampler: DDIM, CFG scale: 7.5, Seed: 42, Size: 512x512, Model: sd-v1-5, \
            Guidance cutoff: 1.0, Late pass: uncond
            """)
    }

    func testNegativePromptLineIsLeftOutWhenThereIsNone() {
        let lines = GenerationParameters(request: request()).text.split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        XCTAssertFalse(lines.contains { $0.hasPrefix("Negative prompt") })
    }

    func testSDClusterKeysFollowInTheSameStyle() {
        var guided = request()
        guided.guidanceCutoff = 0.5
        guided.latePass = .cond
        let text = GenerationParameters(request: guided, unetEvaluations: 30).text
        XCTAssertTrue(text.hasSuffix("Guidance cutoff: 0.5, Late pass: cond, UNet evaluations: 30"), text)
    }

    func testTheEngineFingerprintComesLastAndReadsBack() {
        let engine = "oneDNN 3.2.0 avx2 avx2 fp32"
        let parameters = GenerationParameters(request: request(), unetEvaluations: 40, engine: engine)
        XCTAssertTrue(parameters.text.hasSuffix("UNet evaluations: 40, Engine: \(engine)"), parameters.text)
        assertRoundTrip(parameters)
        let mixed = GenerationParameters(request: request(), engine: engine + " + oneDNN 3.2.0 avx512_core avx512 fp32")
        assertRoundTrip(mixed)
        XCTAssertNil(try GenerationParameters(parsing: GenerationParameters(request: request()).text).engine)
    }

    func testGuidanceIntervalAndAdaptiveGuidanceAreRecordedAndReadBack() {
        var guided = request()
        guided.guidanceInterval = GuidanceInterval(sigmaLow: 0.28, sigmaHigh: 5.42)
        guided.adaptiveGuidanceThreshold = 0.999
        let parameters = GenerationParameters(request: guided, unetEvaluations: 31)
        XCTAssertTrue(parameters.text.contains("Late pass: uncond, Guidance interval: 0.28 5.42, Adaptive guidance: 0.999, UNet evaluations: 31"),
                      parameters.text)
        assertRoundTrip(parameters)
    }

    func testSamplerNamesAreTheWebUIs() {
        XCTAssertEqual(SchedulerKind.allCases.map(\.samplerName),
                       ["DDIM", "PLMS", "Euler", "Euler a", "DPM++ 2M", "DPM++ 2M Karras"])
    }

    func testValuesWithCommasColonsOrNewlinesAreJSONQuoted() {
        var named = request()
        named.model = "models/a, b: c"
        XCTAssertTrue(GenerationParameters(request: named).text.contains(#"Model: "models/a, b: c""#))
        XCTAssertEqual(GenerationParameters.quoted("a\"b\nc"), #""a\"b\nc""#)
        XCTAssertEqual(GenerationParameters.quoted("plain value"), "plain value")
    }

    func testRoundTripsEverySchedulerAndTheExtraFields() {
        for scheduler in SchedulerKind.allCases {
            var each = request(negative: "low quality")
            each.scheduler = scheduler
            each.guidanceCutoff = 0.35
            each.latePass = .cond
            each.seed = UInt64.max
            assertRoundTrip(GenerationParameters(request: each, unetEvaluations: 33))
        }
    }

    func testRoundTripsMultiLinePrompts() {
        assertRoundTrip(GenerationParameters(request: request(prompt: "first line\nsecond line\n\nfourth",
                                                              negative: "bad\nworse")))
    }

    func testRoundTripsCommasAndColonsInsidePrompts() {
        let prompt = "(masterpiece:1.2), a cat, Steps: 5, Seed: 7, style: oil"
        assertRoundTrip(GenerationParameters(request: request(prompt: prompt, negative: "a, b: c")))
    }

    func testRoundTripsMissingNegativeAndEmptyPrompt() {
        assertRoundTrip(GenerationParameters(request: request(negative: "")))
        assertRoundTrip(GenerationParameters(request: request(prompt: "", negative: "")))
        assertRoundTrip(GenerationParameters(request: request(prompt: "", negative: "blurry")))
    }

    func testRoundTripsWithoutAModelName() {
        var unnamed = request()
        unnamed.model = nil
        assertRoundTrip(GenerationParameters(request: unnamed))
    }

    func testReadsWebUITextKeepingUnknownKeysInOrder() throws {
        let text = """
            a castle, (sunset:1.1)
            Negative prompt: lowres, bad anatomy
            Steps: 30, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 1234, Size: 512x768, \
            Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Clip skip: 2, Version: v1.10.1
            """
        let parameters = try GenerationParameters(parsing: text)
        XCTAssertEqual(parameters.request.prompt, "a castle, (sunset:1.1)")
        XCTAssertEqual(parameters.request.negativePrompt, "lowres, bad anatomy")
        XCTAssertEqual(parameters.request.scheduler, .dpmpp2mKarras)
        XCTAssertEqual(parameters.request.guidanceScale, 7)
        XCTAssertEqual(parameters.request.seed, 1234)
        XCTAssertEqual(parameters.request.width, 512)
        XCTAssertEqual(parameters.request.height, 768)
        XCTAssertEqual(parameters.request.model, "v1-5-pruned-emaonly")
        XCTAssertEqual(parameters.request.guidanceCutoff, 1)
        XCTAssertEqual(parameters.request.clipSkip, 2, "the web UI's Clip skip is sdcluster's clip_skip")
        XCTAssertEqual(parameters.otherFields.map(\.key), ["Model hash", "Version"])
        XCTAssertEqual(parameters.otherFields.map(\.value), ["6ce0161689", "v1.10.1"])
    }

    func testQuotedWebUIValuesWithCommasAndColonsAreKeptWhole() throws {
        let text = #"cat"# + "\n" + #"Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 5, Size: 64x64, "#
            + #"Lora hashes: "add_detail: 7c6bad76eb54, more: 0123", Version: v1.9.4"#
        let parameters = try GenerationParameters(parsing: text)
        XCTAssertEqual(parameters.request.scheduler, .eulerAncestral)
        XCTAssertEqual(parameters.otherFields, [.init(key: "Lora hashes", value: "add_detail: 7c6bad76eb54, more: 0123"),
                                                .init(key: "Version", value: "v1.9.4")])
        XCTAssertEqual(try GenerationParameters(parsing: parameters.text), parameters)
    }

    func testMissingSeedIsReported() {
        XCTAssertThrowsError(try GenerationParameters(parsing: "cat\nSteps: 20, Sampler: DDIM, CFG scale: 7, Size: 8x8")) {
            XCTAssertEqual($0 as? GenerationParametersError, .missingKey("Seed"))
        }
    }

    func testBadSizeIsReported() {
        XCTAssertThrowsError(try GenerationParameters(parsing: "Steps: 20, Sampler: DDIM, CFG scale: 7, Seed: 1, Size: big")) {
            XCTAssertEqual($0 as? GenerationParametersError,
                           .badValue(key: "Size", value: "big", expected: "WIDTHxHEIGHT, e.g. 512x512"))
        }
    }

    /// A line without a sampler reads as a request without one: the model's own scheduler.
    func testAMissingSamplerIsTheModelsOwn() throws {
        let parsed = try GenerationParameters(parsing: "Steps: 20, CFG scale: 7, Seed: 1, Size: 8x8")
        XCTAssertNil(parsed.request.scheduler)
        XCTAssertEqual(parsed.request.steps, 20)
        XCTAssertFalse(GenerationParameters(request: parsed.request).text.contains("Sampler"))
    }

    func testUnknownSamplerIsReported() {
        XCTAssertThrowsError(try GenerationParameters(parsing: "Steps: 20, Sampler: DPM++ SDE, CFG scale: 7, Seed: 1, Size: 8x8")) {
            XCTAssertEqual($0 as? GenerationParametersError, .unknownSampler("DPM++ SDE"))
        }
    }

    func testTextWithoutParametersLineIsReported() {
        XCTAssertThrowsError(try GenerationParameters(parsing: "just a prompt, nothing else")) {
            XCTAssertEqual($0 as? GenerationParametersError, .noParametersLine("just a prompt, nothing else"))
        }
    }
}
