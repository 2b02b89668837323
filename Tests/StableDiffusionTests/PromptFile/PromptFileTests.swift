import Foundation
import XCTest
@testable import StableDiffusion

/// Prompt files: plain text and JSONL, defaults, `count`, and validation before anything runs.
final class PromptFileTests: XCTestCase {
    let defaults = GenerationRequest(prompt: "default", negativePrompt: "blurry", seed: 100, steps: 25,
                                     guidanceScale: 7.5, scheduler: .pndm, width: 128, height: 128)

    private func problems(_ text: String, count: Int = 1, defaults: GenerationRequest? = nil) -> [PromptFileError.Problem] {
        do {
            _ = try PromptFile.parse(text: text, defaults: defaults ?? self.defaults, count: count)
            XCTFail("expected problems in \(text.debugDescription)")
            return []
        } catch let error as PromptFileError {
            return error.problems
        } catch {
            XCTFail("unexpected error \(error)")
            return []
        }
    }

    func testGuidanceIntervalAndAdaptiveGuidanceAreJSONLFields() throws {
        let text = """
            {"prompt": "a", "guidance_interval": [0.28, 5.42], "adaptive_guidance_threshold": 0.999}
            {"prompt": "b", "guidance_interval": {"sigma_low": 1, "sigma_high": 2}}
            {"prompt": "c", "guidance_interval": null}
            """
        let requests = try PromptFile.parse(text: text, defaults: defaults)
        XCTAssertEqual(requests[0].guidanceInterval, GuidanceInterval(sigmaLow: 0.28, sigmaHigh: 5.42))
        XCTAssertEqual(requests[0].adaptiveGuidanceThreshold, 0.999)
        XCTAssertEqual(requests[1].guidanceInterval, GuidanceInterval(sigmaLow: 1, sigmaHigh: 2))
        XCTAssertNil(requests[1].adaptiveGuidanceThreshold)
        XCTAssertNil(requests[2].guidanceInterval)
        let bad = problems("{\"guidance_interval\": [1]}\n{\"guidance_interval\": [2, 1]}\n{\"adaptive_guidance_threshold\": 2}\n")
        XCTAssertEqual(bad.map(\.line), [1, 2, 3])
        XCTAssertTrue(bad[0].message.hasPrefix("guidance_interval must be [sigma_low, sigma_high]"), bad[0].message)
        XCTAssertTrue(bad[1].message.contains("sigma_low < sigma_high"), bad[1].message)
        XCTAssertTrue(bad[2].message.contains("adaptive_guidance_threshold must be within (0, 1]"), bad[2].message)
    }

    // MARK: small traps

    func testAJSONLineInAPlainTextFileIsNamedNotTakenLiterally() {
        let found = problems("a red circle\n{\"prompt\": \"a blue star\", \"seed\": 3}\n")
        XCTAssertEqual(found.map(\.line), [2])
        XCTAssertTrue(found[0].message.contains("is a JSON request, but the file is read as plain text"), found[0].message)
        XCTAssertNoThrow(try PromptFile.parse(text: "a {curly} prompt\n{not json}\n", defaults: defaults), "braces alone are a prompt")
    }

    func testNaNAndBrokenJSONAreNamedAsSuch() {
        let nan = problems("{\"prompt\": \"x\", \"guidance_scale\": NaN}\n")
        XCTAssertEqual(nan.map(\.message), ["NaN is not a JSON number (JSON has no NaN or Infinity): give a finite number"])
        let broken = problems("{\"prompt\": \"x\", \"steps\": }\n")
        XCTAssertTrue(broken[0].message.hasPrefix("not a JSON object: the text is not valid JSON"), broken[0].message)
        XCTAssertTrue(problems("{\"prompt\": \"x\"}\n[1, 2]\n")[0].message.hasPrefix("not a JSON object"))
    }

    private func parseError(_ text: String, defaults: GenerationRequest) -> PromptFileError? {
        do {
            _ = try PromptFile.parse(text: text, defaults: defaults)
            return nil
        } catch {
            return error as? PromptFileError
        }
    }

    func testBadOptionsAreTheOptionsFaultNotTheFiles() throws {
        var bad = defaults
        bad.steps = 0
        let optionsError = try XCTUnwrap(parseError("x\n", defaults: bad))
        XCTAssertTrue(optionsError.description.contains("Fix the options"), optionsError.description)
        let fileError = try XCTUnwrap(parseError("{\"steps\": 0}\n", defaults: defaults))
        XCTAssertTrue(fileError.description.contains("Fix the file"), fileError.description)
    }

    func testAPromptFileCanBeAPipe() throws {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        let text = "a red circle\na blue star\n"
        _ = text.withCString { write(fds[1], $0, strlen($0)) }
        close(fds[1])
        defer { close(fds[0]) }
        let requests = try PromptFile.read(path: "/dev/fd/\(fds[0])", defaults: defaults)
        XCTAssertEqual(requests.map(\.prompt), ["a red circle", "a blue star"])
    }

    // MARK: plain text

    func testPlainTextIsOnePromptALineWithDefaults() throws {
        let requests = try PromptFile.parse(text: "a red circle\n  a blue star  \n", defaults: defaults)
        XCTAssertEqual(requests.map(\.prompt), ["a red circle", "a blue star"])
        XCTAssertEqual(requests[0], GenerationRequest(prompt: "a red circle", negativePrompt: "blurry", seed: 100,
                                                      steps: 25, guidanceScale: 7.5, scheduler: .pndm,
                                                      width: 128, height: 128))
    }

    func testPlainTextSkipsBlankAndCommentLines() throws {
        let requests = try PromptFile.parse(text: "# shapes\n\na red circle\r\n   \n# done\na cross", defaults: defaults)
        XCTAssertEqual(requests.map(\.prompt), ["a red circle", "a cross"])
    }

    func testPlainTextPromptsWithBracesStayPrompts() throws {
        let requests = try PromptFile.parse(text: "{red|blue} car\na {big} dog", defaults: defaults)
        XCTAssertEqual(requests.map(\.prompt), ["{red|blue} car", "a {big} dog"])
    }

    func testCountExpandsPlainPromptsWithConsecutiveSeeds() throws {
        let requests = try PromptFile.parse(text: "a\nb", defaults: defaults, count: 3)
        XCTAssertEqual(requests.map(\.prompt), ["a", "a", "a", "b", "b", "b"])
        XCTAssertEqual(requests.map(\.seed), [100, 101, 102, 100, 101, 102])
    }

    func testFileWithoutPromptsIsAProblem() {
        XCTAssertEqual(problems("# nothing\n\n"), [.init(line: nil, message: "the file holds no prompts")])
    }

    // MARK: JSONL

    func testJSONLinesSetEveryField() throws {
        let line = #"{"prompt": "a star", "negative_prompt": "", "seed": 7, "steps": 30, "guidance_scale": 5, "#
            + #""guidance_cutoff": 0.4, "late_pass": "cond", "scheduler": "dpmpp-2m-karras", "width": 64, "#
            + #""height": 96, "model": "shapes"}"#
        let requests = try PromptFile.parse(text: line, defaults: defaults)
        XCTAssertEqual(requests, [GenerationRequest(prompt: "a star", negativePrompt: "", seed: 7, steps: 30,
                                                    guidanceScale: 5, guidanceCutoff: 0.4, latePass: .cond,
                                                    scheduler: .dpmpp2mKarras, width: 64, height: 96, model: "shapes")])
    }

    func testJSONFieldsLeftOutTakeTheDefaults() throws {
        let requests = try PromptFile.parse(text: #"{"seed": 5}"# + "\n" + #"{"prompt": "x"}"#, defaults: defaults)
        XCTAssertEqual(requests.map(\.prompt), ["default", "x"])
        XCTAssertEqual(requests.map(\.seed), [5, 100])
        XCTAssertEqual(requests.map(\.steps), [25, 25])
    }

    func testJSONCountExpandsWithConsecutiveSeeds() throws {
        let requests = try PromptFile.parse(text: #"{"prompt": "a", "seed": 41, "count": 3}"#, defaults: defaults)
        XCTAssertEqual(requests.map(\.seed), [41, 42, 43])
    }

    func testEmptyPromptIsAllowed() throws {
        let requests = try PromptFile.parse(text: #"{"prompt": ""}"#, defaults: defaults)
        XCTAssertEqual(requests.map(\.prompt), [""])
    }

    func testJSONLinesFormatCanBeForced() throws {
        let requests = try PromptFile.parse(text: "\n" + #" {"prompt": "a"} "#, defaults: defaults, format: .jsonLines)
        XCTAssertEqual(requests.map(\.prompt), ["a"])
    }

    func testLargestSeedIsAccepted() throws {
        let requests = try PromptFile.parse(text: #"{"seed": 18446744073709551615}"#, defaults: defaults)
        XCTAssertEqual(requests.map(\.seed), [UInt64.max])
    }

    // MARK: validation

    func testUnknownFieldIsReportedWithItsLine() {
        let found = problems(#"{"prompt": "a"}"# + "\n" + #"{"promt": "b"}"#)
        XCTAssertEqual(found.map(\.line), [2])
        XCTAssertTrue(found[0].message.hasPrefix(#"unknown field "promt""#), found[0].message)
    }

    func testWrongTypesAreReported() {
        let found = problems(#"{"prompt": 3, "seed": "7", "steps": 2.5, "width": true, "guidance_scale": "high"}"#)
        XCTAssertEqual(found.map(\.message), [
            "prompt must be a string, not 3",
            "seed must be a whole number >= 0 (or -1 for a random one), not \"7\"",
            "steps must be a whole number, not 2.5",
            "guidance_scale must be a number, not \"high\"",
            "width must be a whole number, not true",
        ])
    }

    func testOutOfRangeValuesAreReported() {
        let found = problems(#"{"steps": 0, "guidance_cutoff": 1.5, "width": 100, "height": 0, "count": 0, "seed": -2}"#)
        XCTAssertEqual(found.map(\.message), [
            "seed must be a whole number >= 0 (or -1 for a random one), not -2",
            "steps must be 1...1000, not 0",
            "guidance_cutoff must be within [0, 1], not 1.5",
            "width must be a positive multiple of 8, not 100",
            "height must be a positive multiple of 8, not 0",
            "count must be 1...10000, not 0",
        ])
    }

    /// AUTOMATIC1111's -1: a seed is drawn per line (in 0..<2^32), `count` copies follow it, and
    /// the request carries the seed drawn, so the image records it.
    func testSeedMinusOneDrawsARandomSeedPerLine() throws {
        var seen = Set<UInt64>()
        for _ in 0..<5 {
            let requests = try PromptFile.parse(text: #"{"prompt": "a", "seed": -1, "count": 2}"# + "\n" + #"{"prompt": "b", "seed": -1}"#,
                                                defaults: defaults)
            XCTAssertEqual(requests.count, 3)
            XCTAssertEqual(requests[1].seed, requests[0].seed + 1)
            XCTAssertTrue(requests.allSatisfy { $0.seed < 1 << 32 + 1 })
            seen.insert(requests[0].seed)
            seen.insert(requests[2].seed)
        }
        XCTAssertGreaterThan(seen.count, 5, "seeds are drawn, not fixed")
    }

    func testUnknownSchedulerAndLatePassAreReported() {
        let found = problems(#"{"scheduler": "lms", "late_pass": "both"}"#)
        XCTAssertEqual(found.count, 2)
        XCTAssertTrue(found[0].message.hasPrefix("late_pass must be \"uncond\" or \"cond\""), found[0].message)
        XCTAssertTrue(found[1].message.hasPrefix("unknown scheduler \"lms\" (known: ddim, pndm,"), found[1].message)
    }

    func testSeedPlusCountPastTheLargestSeedIsReported() {
        let found = problems(#"{"seed": 18446744073709551615, "count": 2}"#)
        XCTAssertEqual(found.count, 1)
        XCTAssertTrue(found[0].message.contains("runs past the largest seed"), found[0].message)
    }

    func testLineThatIsNotJSONInAJSONLFileIsReported() {
        let found = problems(#"{"prompt": "a"}"# + "\n" + "a plain prompt\n" + #"{"prompt": }"#)
        XCTAssertEqual(found.map(\.line), [2, 3])
        XCTAssertTrue(found.allSatisfy { $0.message.hasPrefix("not a JSON object") })
    }

    func testEveryBadLineIsCollectedIntoOneError() throws {
        let text = [#"{"steps": 0}"#, #"{"prompt": "fine"}"#, "# comment", #"{"width": 12}"#, #"{"x": 1}"#]
            .joined(separator: "\n")
        let found = problems(text)
        XCTAssertEqual(found.map(\.line), [1, 4, 5])
        let error = PromptFileError(source: "p.jsonl", problems: found)
        XCTAssertTrue(error.description.hasPrefix("p.jsonl: 3 problems; nothing was run."), error.description)
        XCTAssertTrue(error.description.contains("  line 4: width must be a positive multiple of 8, not 12"))
    }

    func testBadDefaultsAreReportedOnce() {
        var bad = defaults
        bad.steps = 0
        XCTAssertEqual(problems("a\nb\nc", defaults: bad), [.init(line: nil, message: "defaults: steps must be 1...1000, not 0")])
    }

    func testReadsAPathAndTakesTheFormatFromItsExtension() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("prompts-\(UUID().uuidString).jsonl").path
        try #"{"prompt": "from a file", "count": 2}"#.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let requests = try PromptFile.read(path: path, defaults: defaults)
        XCTAssertEqual(requests.map(\.prompt), ["from a file", "from a file"])
        XCTAssertThrowsError(try PromptFile.read(path: path + ".missing", defaults: defaults)) {
            XCTAssertEqual(($0 as? PromptFileError)?.problems, [.init(line: nil, message: "no such file")])
        }
    }
}
