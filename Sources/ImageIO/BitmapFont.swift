/// A 3 x 5 pixel font for chart labels (digits, capitals and a few signs; lower case is drawn
/// as capitals), so plots need no font files.
enum BitmapFont {
    static let glyphWidth = 3, glyphHeight = 5

    /// Rows top to bottom, `#` set.
    private static let glyphs: [Character: String] = [
        "0": "### #.# #.# #.# ###", "1": ".#. ##. .#. .#. ###", "2": "##. ..# .#. #.. ###",
        "3": "##. ..# .#. ..# ##.", "4": "#.# #.# ### ..# ..#", "5": "### #.. ##. ..# ##.",
        "6": ".## #.. ### #.# ###", "7": "### ..# .#. .#. .#.", "8": "### #.# ### #.# ###",
        "9": "### #.# ### ..# ##.",
        "A": ".#. #.# ### #.# #.#", "B": "##. #.# ##. #.# ##.", "C": ".## #.. #.. #.. .##",
        "D": "##. #.# #.# #.# ##.", "E": "### #.. ##. #.. ###", "F": "### #.. ##. #.. #..",
        "G": ".## #.. #.# #.# .##", "H": "#.# #.# ### #.# #.#", "I": "### .#. .#. .#. ###",
        "J": "..# ..# ..# #.# .#.", "K": "#.# #.# ##. #.# #.#", "L": "#.. #.. #.. #.. ###",
        "M": "#.# ### ### #.# #.#", "N": "##. #.# #.# #.# #.#", "O": ".#. #.# #.# #.# .#.",
        "P": "##. #.# ##. #.. #..", "Q": ".#. #.# #.# ### .##", "R": "##. #.# ##. #.# #.#",
        "S": ".## #.. .#. ..# ##.", "T": "### .#. .#. .#. .#.", "U": "#.# #.# #.# #.# ###",
        "V": "#.# #.# #.# #.# .#.", "W": "#.# #.# ### ### #.#", "X": "#.# #.# .#. #.# #.#",
        "Y": "#.# #.# .#. .#. .#.", "Z": "### ..# .#. #.. ###",
        ".": "... ... ... ... .#.", ",": "... ... ... .#. #..", "-": "... ... ### ... ...",
        "+": "... .#. ### .#. ...", "(": ".#. #.. #.. #.. .#.", ")": ".#. ..# ..# ..# .#.",
        "[": "##. #.. #.. #.. ##.", "]": ".## ..# ..# ..# .##", "/": "..# ..# .#. #.. #..",
        "%": "#.# ..# .#. #.. #.#", ":": "... .#. ... .#. ...", "=": "... ### ... ### ...",
        "_": "... ... ... ... ###", "<": "..# .#. #.. .#. ..#", ">": "#.. .#. ..# .#. #..",
        "'": ".#. .#. ... ... ...", "*": "... #.# .#. #.# ...",
    ]

    /// Whether pixel (`x`, `y`) of `character`'s glyph is set (unknown characters are blank).
    static func isSet(_ character: Character, x: Int, y: Int) -> Bool {
        let key = Character(character.uppercased())
        guard let rows = glyphs[key] else { return false }
        let row = rows.split(separator: " ")[y]
        return row[row.index(row.startIndex, offsetBy: x)] == "#"
    }

    /// Width in pixels of `text` at `scale` (one blank column between glyphs).
    static func width(of text: String, scale: Int) -> Int {
        max(text.count * (glyphWidth + 1) - 1, 0) * scale
    }
}
