// "Did you mean": the candidate nearest to a mistyped word, for error messages (model names, flags).
#pragma once
#include <string>
#include <vector>

namespace gradc {

// Levenshtein distance, ASCII case ignored.
size_t edit_distance(const std::string& a, const std::string& b);
// The candidate within `max_distance` edits of `word` (the closest; ties: the first), or "".
std::string nearest_word(const std::string& word, const std::vector<std::string>& candidates, size_t max_distance = 2);

}  // namespace gradc
