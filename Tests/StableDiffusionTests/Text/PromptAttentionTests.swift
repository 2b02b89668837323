import XCTest
@testable import StableDiffusion

/// `PromptAttention.parse` against AUTOMATIC1111's `parse_prompt_attention`: the doctest examples
/// of `modules/prompt_parser.py` (its own expected output, copied as A1111 prints it), then tricky
/// strings whose expectations were worked out by hand from A1111's rules (the regex alternatives
/// in order, the bracket stacks, unclosed brackets applied at the end, the BREAK split, merging).
final class PromptAttentionTests: XCTestCase {
    private func assertParse(_ text: String, _ expected: [(String, Double)], file: StaticString = #filePath, line: UInt = #line) {
        let got = PromptAttention.parse(text)
        XCTAssertEqual(got, expected.map { WeightedText($0.0, $0.1) }, "parsing \(text.debugDescription)", file: file, line: line)
    }

    // MARK: A1111's doctests

    func testA1111DoctestExamples() {
        assertParse("normal text", [("normal text", 1.0)])
        assertParse("an (important) word", [("an ", 1.0), ("important", 1.1), (" word", 1.0)])
        assertParse("(unbalanced", [("unbalanced", 1.1)])
        assertParse(#"\(literal\]"#, [("(literal]", 1.0)])
        assertParse("(unnecessary)(parens)", [("unnecessaryparens", 1.1)])
        assertParse("a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).", [
            ("a ", 1.0), ("house", 1.5730000000000004), (" ", 1.1), ("on", 1.0), (" a ", 1.1),
            ("hill", 0.55), (", sun, ", 1.1), ("sky", 1.4641000000000006), (".", 1.1),
        ])
    }

    // MARK: Brackets and weights

    func testAnEmptyPromptIsOneEmptyPieceOfWeightOne() {
        assertParse("", [("", 1.0)])
    }

    func testSquareBracketsDivideByOnePointOneEachInDoubles() {
        assertParse("[[a]]", [("a", (1.0 * (1 / 1.1)) * (1 / 1.1))])
        assertParse("x [y", [("x ", 1.0), ("y", 1 / 1.1)])
    }

    func testExplicitWeightsMultiplyWithEnclosingBrackets() {
        assertParse("((a:1.3):1.2)", [("a", 1.3 * 1.2)])
        assertParse("(a:1.5) (b)", [("a", 1.5), (" ", 1.0), ("b", 1.1)])
        assertParse("(a:-0.5)", [("a", -0.5)])
        assertParse("(a:0)", [("a", 0)])
        assertParse("(a:.5)", [("a", 0.5)])
        assertParse("(a:1.)", [("a", 1.0)])
        assertParse("(a:+2)", [("a", 2.0)])
    }

    func testAWeightWithoutAnOpenBracketIsText() {
        assertParse("a:1.3) b", [("a:1.3) b", 1.0)])
    }

    func testAWeightNotClosedByAParenthesisIsText() {
        // ":1.2" never matches the weight pattern (no ")"), the "(" stays open to the end.
        assertParse("a (b:1.2", [("a ", 1.0), ("b:1.2", 1.1)])
        // "e" is not in [.\d]: ":" and "1e3" are text, ")" closes the bracket.
        assertParse("(a:1e3)", [("a:1e3", 1.1)])
    }

    func testAWeightPythonCannotReadIsTextWhereA1111Crashes() {
        assertParse("(a:1.2.3)", [("a:1.2.3)", 1.1)])
        assertParse("(a:.)", [("a:.)", 1.1)])
    }

    func testDigitsOfOtherScriptsAreReadAsPythonReadsThem() {
        assertParse("(a:\u{0661}.\u{0665})", [("a", 1.5)])  // Arabic-Indic 1.5
    }

    func testUnmatchedClosingBracketsAndColonsAreText() {
        assertParse("smile :)", [("smile :)", 1.0)])
        assertParse("a ] b", [("a ] b", 1.0)])
        assertParse("a:b", [("a:b", 1.0)])
        assertParse("a)(b", [("a)", 1.0), ("b", 1.1)])
    }

    // MARK: Escapes

    func testEscapesGiveTheCharacterAndALoneBackslashVanishes() {
        assertParse(#"\\"#, [(#"\"#, 1.0)])
        assertParse(#"a\b"#, [("ab", 1.0)])
        assertParse(#"\(a\) (b)"#, [("(a) ", 1.0), ("b", 1.1)])
        assertParse(#"a\"#, [("a", 1.0)])
        assertParse(#"\[x\]"#, [("[x]", 1.0)])
    }

    // MARK: BREAK

    func testBreakSplitsWithTheSpacesAroundIt() {
        assertParse("a BREAK b", [("a", 1.0), ("BREAK", -1), ("b", 1.0)])
        assertParse("a\tBREAK\nb", [("a", 1.0), ("BREAK", -1), ("b", 1.0)])
        assertParse("BREAK", [("", 1.0), ("BREAK", -1), ("", 1.0)])
        assertParse("a BREAK BREAK b", [("a", 1.0), ("BREAK", -1), ("", 1.0), ("BREAK", -1), ("b", 1.0)])
    }

    func testBreakMustBeAWholeWord() {
        assertParse("aBREAK b", [("aBREAK b", 1.0)])
        assertParse("a BREAKBREAK", [("a BREAKBREAK", 1.0)])
        assertParse("a_BREAK", [("a_BREAK", 1.0)])
        assertParse("a BREAK9", [("a BREAK9", 1.0)])
        assertParse("a break b", [("a break b", 1.0)])
        // Punctuation is a word boundary.
        assertParse("a,BREAK,b", [("a,", 1.0), ("BREAK", -1), (",b", 1.0)])
    }

    func testBreakInsideBracketsHasItsMarkerMultipliedAndIsThenText() {
        let parsed = PromptAttention.parse("a (b BREAK c)")
        XCTAssertEqual(parsed, [WeightedText("a ", 1), WeightedText("b", 1.1), WeightedText("BREAK", -1.1), WeightedText("c", 1.1)])
        XCTAssertFalse(parsed[2].isBreak)
    }

    func testBreakBetweenWeightedPartsKeepsEmptyPieces() {
        assertParse("(a) BREAK (b)", [("a", 1.1), ("", 1.0), ("BREAK", -1), ("", 1.0), ("b", 1.1)])
    }

    // MARK: Plain prompts

    func testPlainPromptsAreRecognised() {
        XCTAssertTrue(PromptAttention.isPlain("a photo of a cat"))
        XCTAssertTrue(PromptAttention.isPlain("smile :) a:b"))
        XCTAssertTrue(PromptAttention.isPlain(""))
        XCTAssertFalse(PromptAttention.isPlain("a (cat)"))
        XCTAssertFalse(PromptAttention.isPlain(#"a \(cat\)"#))
        XCTAssertFalse(PromptAttention.isPlain("a BREAK b"))
    }
}
