import XCTest
@testable import ShapesWorld

final class CaptionTests: XCTestCase {
    func testSpecExamplesAreWrittenInTheCaptionGrammar() {
        XCTAssertEqual(Caption.text(StatedAttributes(color: .red, background: .blue, shape: .circle)),
                       "a red circle on a blue background")
        XCTAssertEqual(Caption.text(StatedAttributes(color: .yellow, background: .black, shape: .star, size: .small,
                                                     position: .top, pattern: .striped)),
                       "a small yellow striped star at the top on a black background")
        XCTAssertEqual(Caption.text(StatedAttributes(color: .white, shape: .cross, size: .large)), "a large white cross")
    }

    func testPlainIsNeverWritten() {
        XCTAssertEqual(Caption.text(StatedAttributes(color: .green, shape: .square, pattern: .plain)), "a green square")
    }

    func testParsingTheSpecExamples() {
        XCTAssertEqual(Caption.parse("a red circle on a blue background"),
                       StatedAttributes(color: .red, background: .blue, shape: .circle))
        XCTAssertEqual(Caption.parse("a small yellow striped star at the top on a black background"),
                       StatedAttributes(color: .yellow, background: .black, shape: .star, size: .small,
                                        position: .top, pattern: .striped))
        XCTAssertEqual(Caption.parse("a large white cross"), StatedAttributes(color: .white, shape: .cross, size: .large))
    }

    func testEveryPositionPhraseParses() {
        for p in ShapePosition.allCases {
            XCTAssertEqual(Caption.parse("a red circle \(p.phrase)").position, p, p.phrase)
        }
    }

    func testParseInvertsTextForEveryGeneratedCaption() {
        for i in 0..<2000 {
            let e = WorldSampler.example(seed: 3, index: i)
            XCTAssertEqual(Caption.parse(e.caption), e.stated, e.caption)
        }
    }

    func testParsingIgnoresCaseAndPunctuationAndExtraWords() {
        let s = Caption.parse("A photo of a LARGE Purple, dotted triangle, on the left; on a green background!")
        XCTAssertEqual(s, StatedAttributes(color: .purple, background: .green, shape: .triangle, size: .large,
                                           position: .left, pattern: .dotted))
    }

    func testACaptionWithoutKnownWordsStatesNothing() {
        XCTAssertEqual(Caption.parse(""), StatedAttributes())
        XCTAssertEqual(Caption.parse("a photo of a cat"), StatedAttributes())
    }
}
