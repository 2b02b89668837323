/// The attributes a caption states; `nil` means the caption does not say.
public struct StatedAttributes: Codable, Equatable, Sendable {
    public var color: PaletteColor?
    public var background: PaletteColor?
    public var shape: ShapeKind?
    public var size: ShapeSize?
    public var position: ShapePosition?
    public var pattern: ShapePattern?

    public init(color: PaletteColor? = nil, background: PaletteColor? = nil, shape: ShapeKind? = nil,
                size: ShapeSize? = nil, position: ShapePosition? = nil, pattern: ShapePattern? = nil) {
        self.color = color; self.background = background; self.shape = shape
        self.size = size; self.position = position; self.pattern = pattern
    }

    /// Everything `attributes` holds, stated (a `plain` pattern is stated too, though never written).
    public init(all attributes: ShapeAttributes) {
        self.init(color: attributes.color, background: attributes.background, shape: attributes.shape,
                  size: attributes.size, position: attributes.position, pattern: attributes.pattern)
    }
}

/// Captions of the form `a [size] <colour> [pattern] <shape> [position phrase] [on a <colour> background]`.
public enum Caption {
    /// The caption text for the stated parts (colour and shape are required; `plain` is never written).
    public static func text(_ s: StatedAttributes) -> String {
        precondition(s.color != nil && s.shape != nil, "a caption always states colour and shape")
        var words = ["a"]
        if let size = s.size { words.append(size.rawValue) }
        words.append(s.color!.rawValue)
        if let pattern = s.pattern, pattern != .plain { words.append(pattern.rawValue) }
        words.append(s.shape!.rawValue)
        if let position = s.position { words.append(position.phrase) }
        if let bg = s.background { words.append("on a \(bg.rawValue) background") }
        return words.joined(separator: " ")
    }

    /// The attributes that `caption` states. Words it does not know are ignored, so the prompt
    /// may carry extra text; a colour word right before `background` is the background colour,
    /// the first other colour word is the object's. Throws nothing: a caption without a colour
    /// or shape just states fewer attributes.
    public static func parse(_ caption: String) -> StatedAttributes {
        let words = caption.lowercased()
            .split(whereSeparator: { !$0.isLetter })
            .map(String.init)
        var s = StatedAttributes()
        for (i, w) in words.enumerated() {
            let next = i + 1 < words.count ? words[i + 1] : ""
            let prev = i >= 1 ? words[i - 1] : ""
            if let c = PaletteColor(rawValue: w) {
                if next == "background" { s.background = c } else if s.color == nil { s.color = c }
            } else if let k = ShapeKind(rawValue: w), s.shape == nil {
                s.shape = k
            } else if let z = ShapeSize(rawValue: w), s.size == nil {
                s.size = z
            } else if let p = ShapePattern(rawValue: w), s.pattern == nil {
                s.pattern = p
            } else if let p = position(word: w, previous: prev), s.position == nil {
                s.position = p
            }
        }
        return s
    }

    /// `center`/`centre`, `left`, `right`, `top`, `bottom`, after `the` as in the position phrases.
    private static func position(word: String, previous: String) -> ShapePosition? {
        guard previous == "the" else { return nil }
        switch word {
        case "center", "centre", "middle": return .center
        case "left": return .left
        case "right": return .right
        case "top": return .top
        case "bottom": return .bottom
        default: return nil
        }
    }
}
