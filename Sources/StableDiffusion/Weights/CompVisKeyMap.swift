import Foundation

/// A two-way name mapping between a CompVis/LDM checkpoint and the diffusers layout, built from
/// prefix pairs plus, per pair, a small table of renames for what follows the prefix.
///
/// Example: the pair (`input_blocks.1.0.`, `down_blocks.0.resnets.0.`) with the ResNet renames maps
/// `input_blocks.1.0.in_layers.2.weight` to `down_blocks.0.resnets.0.conv1.weight`. The pairs are
/// derived from a model config, so tiny test configs and SD 1.5 use the same code.
public struct CompVisKeyMap: Sendable {
    /// How the part of a name after a prefix is renamed.
    public enum Suffixes: Sendable, Equatable {
        /// Kept as is (attention blocks of the UNet, convolutions, norms).
        case same
        /// UNet ResNet: `in_layers.0` -> `norm1`, `emb_layers.1` -> `time_emb_proj`, ...
        case unetResnet
        /// VAE ResNet: only `nin_shortcut` -> `conv_shortcut`.
        case vaeResnet
        /// VAE attention: `norm` -> `group_norm`, `q` -> `to_q`, ..., `proj_out` -> `to_out.0`;
        /// the projections are 1x1 convolutions in CompVis and linear layers in diffusers.
        case vaeAttention

        /// (CompVis, diffusers) renames of the first name components after the prefix.
        var renames: [(String, String)] {
            switch self {
            case .same: return []
            case .unetResnet:
                return [("in_layers.0.", "norm1."), ("in_layers.2.", "conv1."), ("out_layers.0.", "norm2."),
                        ("out_layers.3.", "conv2."), ("emb_layers.1.", "time_emb_proj."),
                        ("skip_connection.", "conv_shortcut.")]
            case .vaeResnet:
                return [("nin_shortcut.", "conv_shortcut.")]
            case .vaeAttention:
                return [("norm.", "group_norm."), ("q.", "to_q."), ("k.", "to_k."), ("v.", "to_v."),
                        ("proj_out.", "to_out.0.")]
            }
        }

        /// Sub-layers named the same on both sides inside a renamed layer (the VAE ResNet's
        /// `norm1`, `conv1`, ...); any other nested name is not part of that layer.
        var kept: [String] {
            self == .vaeResnet ? ["norm1.", "norm2.", "conv1.", "conv2."] : []
        }
    }

    /// One prefix pair. Prefixes end with a dot.
    public struct Rule: Sendable {
        public let compVis: String
        public let diffusers: String
        public let suffixes: Suffixes
    }

    public private(set) var rules: [Rule] = []

    public init() {}

    public mutating func add(_ compVis: String, _ diffusers: String, _ suffixes: Suffixes = .same) {
        rules.append(Rule(compVis: compVis, diffusers: diffusers, suffixes: suffixes))
    }

    /// The diffusers name of CompVis name `name` (relative to the component prefix), or nil when
    /// no rule covers it.
    public func diffusersName(_ name: String) -> String? {
        guard let rule = longestMatch(name, by: \.compVis) else { return nil }
        let rest = String(name.dropFirst(rule.compVis.count))
        guard let renamed = Self.rename(rest, rule.suffixes.renames, kept: rule.suffixes.kept) else { return nil }
        return rule.diffusers + renamed
    }

    /// The CompVis name of diffusers name `name`, or nil when no rule covers it.
    public func compVisName(_ name: String) -> String? {
        guard let rule = longestMatch(name, by: \.diffusers) else { return nil }
        let rest = String(name.dropFirst(rule.diffusers.count))
        guard let renamed = Self.rename(rest, rule.suffixes.renames.map { ($0.1, $0.0) }, kept: rule.suffixes.kept) else { return nil }
        return rule.compVis + renamed
    }

    /// The rule for a diffusers name, to know whether its tensor needs reshaping.
    public func rule(forDiffusers name: String) -> Rule? { longestMatch(name, by: \.diffusers) }

    private func longestMatch(_ name: String, by side: KeyPath<Rule, String>) -> Rule? {
        var best: Rule?
        for rule in rules where name.hasPrefix(rule[keyPath: side]) {
            if best == nil || rule[keyPath: side].count > best![keyPath: side].count { best = rule }
        }
        return best
    }

    /// Applies the first matching rename of the leading components; names that need no rename
    /// (`weight`, `bias`, or any name under a `.same` rule) pass unchanged. Under a renaming rule a
    /// nested name that matches no rename (`foo.weight`) is not something that layer has: nil.
    private static func rename(_ rest: String, _ renames: [(String, String)], kept: [String]) -> String? {
        if renames.isEmpty || !rest.contains(".") { return rest }
        for (from, to) in renames where rest.hasPrefix(from) {
            return to + rest.dropFirst(from.count)
        }
        return kept.contains(where: rest.hasPrefix) ? rest : nil
    }
}
