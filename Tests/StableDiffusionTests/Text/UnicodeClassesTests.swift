import Foundation
import XCTest
@testable import StableDiffusion

/// The character classes and mappings that the tokenizer's clean-up and word split rely on,
/// checked over every Unicode scalar against the `tokenizers` library (Fixtures/tokenizer):
/// Swift's Unicode tables and the library's must agree, or prompts with such characters
/// would tokenize differently.
final class UnicodeClassesTests: XCTestCase {
    let tables = TokenizerFixture.shared.unicode

    func testWhitespaceIsTheRegexEnginesBackslashS() {
        assertClass(.whitespace, matches: tables.whitespace)
    }

    func testLettersAreTheRegexEnginesLetterClass() {
        assertClass(.letter, matches: tables.letters)
    }

    func testNumbersAreTheRegexEnginesNumberClass() {
        assertClass(.number, matches: tables.numbers)
    }

    func testLowerCasingMapsEveryScalarLikeTheLowercaseNormalizer() {
        XCTAssertTrue(unassignedScalarsAreUnchanged(in: tables.lowercase))
        var mismatches: [String] = []
        for scalar in Self.assignedScalars {
            var mapped: [Unicode.Scalar] = []
            TextCleaner.appendLowercased(scalar, to: &mapped)
            let expected = tables.lowercase[String(scalar.value)] ?? [scalar.value]
            if mapped.map(\.value) != expected { mismatches.append(hex(scalar.value)) }
        }
        XCTAssertEqual(mismatches, [], "scalars lower-cased differently from tokenizers")
    }

    func testNFCMapsEverySingleScalarLikeTheNFCNormalizer() {
        XCTAssertTrue(unassignedScalarsAreUnchanged(in: tables.nfcSingle))
        var mismatches: [String] = []
        for scalar in Self.assignedScalars {
            let composed = TextCleaner.composed(String(scalar)).unicodeScalars.map(\.value)
            let expected = tables.nfcSingle[String(scalar.value)] ?? [scalar.value]
            if composed != expected { mismatches.append(hex(scalar.value)) }
        }
        XCTAssertEqual(mismatches, [], "scalars composed differently from tokenizers")
    }

    func testCleanerCollapsesWhitespaceRunsToOneSpace() {
        let cleaned = TextCleaner.clean("A\t\n B\u{3000}\u{A0}C")
        XCTAssertEqual(String(String.UnicodeScalarView(cleaned)), "a b c")
    }

    func testCombiningMarksAreThoseOfTheReferencesNormalizationData() {
        let known = TokenizerFixture.shared.unicode.nfcMarks
        func isKnown(_ value: UInt32) -> Bool { known.contains { $0[0] <= value && value <= $0[1] } }
        var mismatches: [String] = []
        for scalar in TokenizerFixture.allScalars where scalar.properties.canonicalCombiningClass.rawValue != 0 {
            let oursKnown = !TextCleaner.isNewerThanNormalizationData(scalar)
            if oursKnown != isKnown(scalar.value) { mismatches.append(hex(scalar.value)) }
        }
        XCTAssertEqual(mismatches, [], "marks whose reordering differs from the reference")
    }

    func testEveryCanonicalPairComposesLikeTheReference() {
        var mismatches: [String] = []
        for pair in TokenizerFixture.shared.unicode.nfcPairs {
            let text = String(String.UnicodeScalarView([Unicode.Scalar(pair.first)!, Unicode.Scalar(pair.second)!]))
            if TextCleaner.composed(text).unicodeScalars.map(\.value) != pair.composed {
                mismatches.append("\(hex(pair.first)) \(hex(pair.second))")
            }
        }
        XCTAssertGreaterThan(TokenizerFixture.shared.unicode.nfcPairs.count, 1000)
        XCTAssertEqual(mismatches, [], "pairs composed differently from the reference")
    }

    func testCompositionKeepsSupplementaryLettersApart() {
        // Foundation's NFC on Linux turned U+1042D + U+0308 into U+04EC (same low 16 bits).
        XCTAssertEqual(TextCleaner.composed("\u{1042D}\u{308}").unicodeScalars.map(\.value), [0x1042D, 0x308])
        XCTAssertEqual(TextCleaner.composed("\u{11099}\u{110BA}").unicodeScalars.map(\.value), [0x1109A])
    }

    func testCleanerComposesBeforeLowerCasing() {
        let cleaned = TextCleaner.clean("E\u{301}")
        XCTAssertEqual(cleaned, ["\u{E9}"])
    }

    /// Compares the scalars Swift puts in `kind` with the fixture's ranges, range by range.
    private func assertClass(_ kind: CLIPCharacterClass, matches expected: [[UInt32]],
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertFalse(expected.isEmpty, file: file, line: line)
        var ranges: [[UInt32]] = []
        for scalar in TokenizerFixture.allScalars where CLIPCharacterClass(scalar) == kind {
            if let last = ranges.last, last[1] + 1 == scalar.value {
                ranges[ranges.count - 1][1] = scalar.value
            } else {
                ranges.append([scalar.value, scalar.value])
            }
        }
        let missing = expected.filter { !ranges.contains($0) }.prefix(20).map { "\(hex($0[0]))-\(hex($0[1]))" }
        let extra = ranges.filter { !expected.contains($0) }.prefix(20).map { "\(hex($0[0]))-\(hex($0[1]))" }
        XCTAssertEqual(missing, [], "ranges of the reference that Swift classifies differently", file: file, line: line)
        XCTAssertEqual(extra, [], "ranges Swift has that the reference does not", file: file, line: line)
    }

    /// Scalars that Swift's tables assign (those without an age map to themselves in Swift).
    private static let assignedScalars = TokenizerFixture.allScalars.filter { $0.properties.age != nil }

    /// Whether the reference's mapping leaves every scalar that Swift does not assign unchanged,
    /// which is what lets the mapping tests skip those scalars.
    private func unassignedScalarsAreUnchanged(in mapping: [String: [UInt32]]) -> Bool {
        mapping.keys.allSatisfy { key in
            UInt32(key).flatMap(Unicode.Scalar.init)?.properties.age != nil
        }
    }

    private func hex(_ value: UInt32) -> String { "U+" + String(value, radix: 16, uppercase: true) }
}
