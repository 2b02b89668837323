import Foundation

extension CompVisKeyMap {
    /// The CLIP text encoder mapping (names relative to `cond_stage_model.transformer.`): LDM
    /// stores a transformers `CLIPTextModel` as is, so names carry over unchanged. Files written by
    /// old transformers versions lack the `text_model.` level; `withTextModelLevel` adds it.
    public static func clipText() -> CompVisKeyMap {
        var map = CompVisKeyMap()
        map.add("text_model.", "text_model.")
        return map
    }

    /// `embeddings.token_embedding.weight` -> `text_model.embeddings.token_embedding.weight`;
    /// names that already have the level pass unchanged. Text encoder stores use the `text_model.`
    /// spelling (that of every SD v1 file on the Hub) and accept both: transformers 5 drops the
    /// level from its module names and from the files it saves.
    public static func withTextModelLevel(_ name: String) -> String {
        name.hasPrefix("text_model.") ? name : "text_model." + name
    }
}
