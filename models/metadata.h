// Numbers as text: for people (grouped digits) and for checkpoint metadata (values that round-trip
// exactly, and validated reads that name the file, the field and the bad value — a named error,
// exit 2, never a bare stoll).
#pragma once
#include <cstdint>
#include <map>
#include <string>

namespace gradc {

// printf-style formatting into a std::string (the one snprintf helper of the project).
std::string format(const char* fmt, double v);
// %.17g: every double round-trips, "inf" included.
std::string exact(double v);
// 1234567 -> "1,234,567" (Keras's parameter counts).
std::string grouped(int64_t v);

// A non-negative decimal integer field of `metadata` at most `max`; throws DataError naming `path`,
// the field and the value otherwise (missing, empty, "abc", "-30", "1e3", "20x", out of range).
int64_t metadata_int(const std::map<std::string, std::string>& metadata, const std::string& key, int64_t max,
                     const std::string& path);
// A number (inf allowed, NaN not); throws DataError like metadata_int.
double metadata_real(const std::map<std::string, std::string>& metadata, const std::string& key,
                     const std::string& path);
// A number in [lo, hi] ((lo, hi] with lo_open); throws DataError naming the key, value and range.
// Loop state a resume takes over (a plateau's lr factor, running losses) must be one a run can reach.
double metadata_real_in(const std::map<std::string, std::string>& metadata, const std::string& key,
                        const std::string& path, double lo, double hi, bool lo_open = false);

}  // namespace gradc
