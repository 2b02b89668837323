import XCTest
import StableDiffusion

/// `GenerationRequest.validated(for:)`: one rule per test, the defaults a known model fills in,
/// and every problem named by its field.
final class RequestValidationTests: XCTestCase {
    private let good = GenerationRequest(prompt: "a red circle", seed: 1, steps: 10, guidanceScale: 7.5)
    /// A model whose VAE factor is 16, with a recommendation and a native size.
    private let model = SamplingModelInfo(latentChannels: 4, vaeScaleFactor: 16, schedulerConfig: .stableDiffusion15,
                                          recommendedGuidanceScale: 2.5, nativeWidth: 96, nativeHeight: 64)

    private func fields(_ request: GenerationRequest, model: SamplingModelInfo? = nil, count: Int = 1) -> [String] {
        RequestValidation.problems(in: request, model: model, count: count).map(\.field)
    }

    private func with(_ change: (inout GenerationRequest) -> Void) -> GenerationRequest {
        var request = good
        change(&request)
        return request
    }

    func testAGoodRequestPassesUnchangedWithoutAModel() throws {
        XCTAssertEqual(try good.validated(for: nil), good)
        XCTAssertEqual(try GenerationRequest(prompt: "").validated(for: nil), GenerationRequest(prompt: ""), "unset fields stay unset")
    }

    /// An unset scheduler becomes the one the model's scheduler config names (what diffusers'
    /// pipelines load), PNDM for a class sdcluster does not run; a request's own is kept.
    func testAnUnsetSchedulerIsTheModelsOwn() throws {
        func model(_ className: String?, karras: Bool? = nil) -> SamplingModelInfo {
            var config = SchedulerConfig.stableDiffusion15
            config.className = className
            config.useKarrasSigmas = karras
            return SamplingModelInfo(latentChannels: 4, vaeScaleFactor: 8, schedulerConfig: config)
        }
        let unset = GenerationRequest(prompt: "a red circle")
        let expected: [(String?, Bool?, SchedulerKind)] = [
            ("EulerDiscreteScheduler", nil, .euler), ("DDIMScheduler", nil, .ddim), ("PNDMScheduler", nil, .pndm),
            ("EulerAncestralDiscreteScheduler", nil, .eulerAncestral), ("DPMSolverMultistepScheduler", true, .dpmpp2mKarras),
            ("DPMSolverMultistepScheduler", nil, .dpmpp2m), ("LMSDiscreteScheduler", nil, .pndm), (nil, nil, .pndm),
        ]
        for (className, karras, kind) in expected {
            XCTAssertEqual(try unset.validated(for: model(className, karras: karras)).scheduler, kind, className ?? "no class")
        }
        var chosen = unset
        chosen.scheduler = .ddim
        XCTAssertEqual(try chosen.validated(for: model("EulerDiscreteScheduler")).scheduler, .ddim)
        XCTAssertEqual(try Sampler.prepare(unset, model: model("EulerDiscreteScheduler")).request.scheduler, .euler,
                       "the state (and the PNG text written from it) holds the scheduler used")
    }

    func testStepsMustBeOneToAThousand() {
        for steps in [0, -3, 1001] { XCTAssertEqual(fields(with { $0.steps = steps }), ["steps"], "\(steps)") }
        for steps in [1, 1000] { XCTAssertEqual(fields(with { $0.steps = steps }), [], "\(steps)") }
    }

    func testImagesLargerThanTheLimitsPixelsAreRefusedWithoutOverflow() throws {
        XCTAssertEqual(fields(with { $0.width = 4096; $0.height = 4096 }), [], "the engine's bound itself passes")
        XCTAssertEqual(fields(with { $0.width = 100_000; $0.height = 512 }), ["width"])
        XCTAssertEqual(fields(with { $0.width = 512; $0.height = 100_000 }), ["height"])
        XCTAssertThrowsError(try with { $0.width = 300_000 }.validated(for: model), "the model's native height fills in, then the size is checked")
        let huge = Int.max / 16 * 8
        XCTAssertEqual(fields(with { $0.width = huge; $0.height = huge }), ["width"], "width * height overflows Int")
        let tight = RequestLimits(maxSteps: 20, maxPixels: 256 * 256, maxTextBytes: 8)
        let refused = RequestValidation.problems(in: with { $0.width = 512; $0.height = 512; $0.steps = 21; $0.prompt = "nine byte" },
                                                 model: nil, limits: tight)
        XCTAssertEqual(refused.map(\.field), ["prompt", "steps", "width"])
        XCTAssertTrue(refused[2].message.contains("65536 pixels"), refused[2].message)
        XCTAssertThrowsError(try with { $0.width = 100_000; $0.height = 100_000 }.validated(for: model))
    }

    func testGuidanceScaleMustBeAFiniteNumberAtLeastZero() {
        for w: Float in [-0.5, .nan, .infinity] { XCTAssertEqual(fields(with { $0.guidanceScale = w }), ["guidance_scale"], "\(w)") }
        for w: Float in [0, 1, 30] { XCTAssertEqual(fields(with { $0.guidanceScale = w }), [], "\(w)") }
    }

    func testGuidanceCutoffMustBeWithinZeroAndOne() {
        for c: Float in [-0.1, 1.5, .nan] { XCTAssertEqual(fields(with { $0.guidanceCutoff = c }), ["guidance_cutoff"], "\(c)") }
        for c: Float in [0, 0.5, 1] { XCTAssertEqual(fields(with { $0.guidanceCutoff = c }), [], "\(c)") }
    }

    func testSizesArePositiveMultiplesOfEightWithoutAModelAndOfTheVAEFactorWithOne() {
        XCTAssertEqual(fields(with { $0.width = 100; $0.height = 0 }), ["width", "height"])
        XCTAssertEqual(fields(with { $0.width = -8; $0.height = 4 }), ["width", "height"])
        XCTAssertEqual(fields(with { $0.width = 72; $0.height = 120 }), [])
        XCTAssertEqual(fields(with { $0.width = 72; $0.height = 120 }, model: model), ["width", "height"], "72 and 120 are no multiples of 16")
        XCTAssertEqual(fields(with { $0.width = 96; $0.height = 48 }, model: model), [])
        let message = RequestValidation.problems(in: with { $0.width = 72 }, model: model).first?.message
        XCTAssertEqual(message, "width must be a positive multiple of 16, not 72")
    }

    func testGuidanceIntervalAndAdaptiveThresholdMustBeMeaningful() {
        XCTAssertEqual(fields(with { $0.guidanceInterval = GuidanceInterval(sigmaLow: 5, sigmaHigh: 5) }), ["guidance_interval"])
        XCTAssertEqual(fields(with { $0.guidanceInterval = GuidanceInterval(sigmaLow: -1, sigmaHigh: 5) }), ["guidance_interval"])
        XCTAssertEqual(fields(with { $0.guidanceInterval = GuidanceInterval(sigmaLow: 0.3, sigmaHigh: 5) }), [])
        for t: Float in [0, 1.5, .nan] { XCTAssertEqual(fields(with { $0.adaptiveGuidanceThreshold = t }), ["adaptive_guidance_threshold"]) }
        XCTAssertEqual(fields(with { $0.adaptiveGuidanceThreshold = 0.999 }), [])
    }

    func testCountAndSeedMustStayInRange() {
        XCTAssertEqual(fields(good, count: 0), ["count"])
        XCTAssertEqual(fields(good, count: RequestValidation.maximumCount + 1), ["count"])
        XCTAssertEqual(fields(with { $0.seed = .max }, count: 1), [])
        XCTAssertEqual(fields(with { $0.seed = .max }, count: 2), ["seed"])
    }

    func testPromptsMayBeEmptyButNotLongerThanTheBound() {
        XCTAssertEqual(fields(with { $0.prompt = ""; $0.negativePrompt = "" }), [])
        let long = String(repeating: "a", count: RequestValidation.maximumTextBytes + 1)
        XCTAssertEqual(fields(with { $0.prompt = long; $0.negativePrompt = long }), ["prompt", "negative_prompt"])
        XCTAssertEqual(fields(with { $0.prompt = String(long.dropLast()) }), [])
    }

    func testAKnownModelFillsInItsDefaultsAndAGivenValueWins() throws {
        let filled = try GenerationRequest(prompt: "a").validated(for: model)
        XCTAssertEqual(filled.guidanceScale, 2.5)
        XCTAssertEqual(filled.width, 96)
        XCTAssertEqual(filled.height, 64)
        XCTAssertEqual(try filled.validated(for: model), filled, "validating twice changes nothing")
        let given = try GenerationRequest(prompt: "a", guidanceScale: 4, width: 32, height: 48).validated(for: model)
        XCTAssertEqual([given.width, given.height], [32, 48])
        XCTAssertEqual(given.guidanceScale, 4)
        let plain = SamplingModelInfo(latentChannels: 4, vaeScaleFactor: 8, schedulerConfig: .stableDiffusion15)
        XCTAssertEqual(try GenerationRequest(prompt: "a").validated(for: plain).guidanceScale, 7.5)
        XCTAssertEqual(try GenerationRequest(prompt: "a").validated(for: plain).width, 512)
    }

    func testEveryProblemIsReportedAtOnceNamingItsField() {
        let bad = with { $0.steps = 0; $0.guidanceCutoff = 2; $0.height = 12 }
        XCTAssertThrowsError(try bad.validated(for: nil)) { error in
            guard let invalid = error as? InvalidRequest else { return XCTFail("\(error)") }
            XCTAssertEqual(invalid.problems.map(\.field), ["steps", "guidance_cutoff", "height"])
            XCTAssertEqual(invalid.description, "steps must be 1...1000, not 0; guidance_cutoff must be within [0, 1], not 2.0; height must be a positive multiple of 8, not 12")
        }
    }

    /// PromptFile (a JSONL line) and Sampler.prepare reach the same verdict on the same request;
    /// ClusterTests' RequestVerdictTests adds SUBMIT decoding.
    func testPromptFilesAndThePreparedStateAgree() throws {
        let info = SamplingModelInfo(latentChannels: 4, vaeScaleFactor: 8, schedulerConfig: .stableDiffusion15)
        let cases = [with { $0.steps = 0 }, with { $0.guidanceScale = -1 }, with { $0.guidanceCutoff = 1.5 },
                     with { $0.width = 100 }, with { $0.steps = 1001; $0.height = 4 }, good]
        for request in cases {
            let line = String(decoding: try JSONEncoder().encode(request), as: UTF8.self)
            var fromFile: [String] = []
            do { _ = try PromptFile.parse(text: line, defaults: good, format: .jsonLines) } catch let error as PromptFileError {
                fromFile = error.problems.map(\.message)
            }
            var fromSampler: [String] = []
            do { _ = try Sampler.prepare(request, model: info) } catch let error as InvalidRequest {
                fromSampler = error.problems.map(\.message)
            }
            XCTAssertEqual(fromFile, fromSampler, line)
            XCTAssertEqual(fromFile, RequestValidation.problems(in: request, model: nil).map(\.message), line)
        }
    }
}
