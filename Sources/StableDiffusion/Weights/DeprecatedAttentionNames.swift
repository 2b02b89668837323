import Foundation

/// diffusers folders saved before diffusers 0.14 (among them the VAE of the original SD v1.4 and
/// v1.5 repositories) name the VAE attention projections `query`, `key`, `value`, `proj_attn`.
/// diffusers renames them on load (`ModelMixin._fix_state_dict_keys_on_load`); so does this.
public enum DeprecatedAttentionNames {
    static let renames = [("query", "to_q"), ("key", "to_k"), ("value", "to_v"), ("proj_attn", "to_out.0")]

    /// `...attentions.0.query.weight` -> `...attentions.0.to_q.weight`; other names unchanged.
    public static func modernName(_ name: String) -> String {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 4, parts[parts.count - 4] == "attentions",
              parts.last == "weight" || parts.last == "bias" else { return name }
        let layer = String(parts[parts.count - 2])
        guard let modern = renames.first(where: { $0.0 == layer })?.1 else { return name }
        return (parts.dropLast(2) + [Substring(modern), parts.last!]).joined(separator: ".")
    }
}
