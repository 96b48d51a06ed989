// The .npy reader and writer: byte-exact headers written by hand from the format description, round
// trips through every supported version and dtype, and one DataError naming the file per kind of bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>

#include "core/error.hpp"
#include "data/npy.hpp"
#include "support/test_support.hpp"

using lstmad::DataError;
using lstmad::NpyArray;
using lstmad::NpyType;
using lstmad::NpyWriteOptions;

namespace {

std::string raw_f8(double v) {
  std::string out(8, '\0');
  std::memcpy(out.data(), &v, 8);  // the test machines are little-endian, like the format
  return out;
}

// magic, version, little-endian header length, then the header text padded with spaces and a newline
// so that the data starts on a 64-byte boundary.
std::string npy_file(int major, const std::string& dict, const std::string& data) {
  const size_t len_bytes = major == 1 ? 2 : 4;
  const size_t prefix = 8 + len_bytes;
  const size_t total = (prefix + dict.size() + 1 + 63) / 64 * 64;
  std::string header = dict;
  header.append(total - prefix - dict.size() - 1, ' ');
  header.push_back('\n');
  std::string out = "\x93NUMPY";
  out.push_back(static_cast<char>(major));
  out.push_back('\0');
  for (size_t b = 0; b < len_bytes; ++b) out.push_back(static_cast<char>((header.size() >> (8 * b)) & 0xff));
  return out + header + data;
}

std::string message_of(const std::string& bytes) {
  try {
    lstmad::parse_npy(bytes, "chan/X-1.npy");
  } catch (const DataError& e) {
    EXPECT_EQ(e.file(), "chan/X-1.npy");
    return e.what();
  }
  ADD_FAILURE() << "no DataError";
  return "";
}

const std::string kDict22 = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }";

}  // namespace

TEST(Npy, WriterMatchesTheFormatByteForByte) {
  // Version 1.0: 10-byte prefix + 59-byte dict + 58 spaces + '\n' = 128 bytes, header length 118 (0x76).
  const std::string data = raw_f8(1.5) + raw_f8(-2.0) + raw_f8(3.0) + raw_f8(0.25);
  const std::string expect = npy_file(1, kDict22, data);
  ASSERT_EQ(expect.size(), 128u + 32u);
  EXPECT_EQ(static_cast<unsigned char>(expect[8]), 0x76);
  EXPECT_EQ(lstmad::npy_bytes({1.5, -2.0, 3.0, 0.25}, 2, 2), expect);
  // Version 2.0, float32, 1-D: 12 + 57 + 58 + 1 = 128, header length 116; 0.25f is 00 00 80 3e.
  NpyWriteOptions o;
  o.type = NpyType::Float32;
  o.version = 2;
  o.one_dimensional = true;
  const std::string f4 = lstmad::npy_bytes({0.25, 0.25, 0.25}, 3, 1, o);
  ASSERT_EQ(f4.size(), 128u + 12u);
  EXPECT_EQ(f4.substr(12, 57), "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }");
  EXPECT_EQ(static_cast<unsigned char>(f4[8]), 116);
  EXPECT_EQ(f4.substr(128, 4), std::string("\x00\x00\x80\x3e", 4));
  EXPECT_THROW(lstmad::npy_bytes({1.0}, 2, 1), lstmad::Error);
}

TEST(Npy, ReadsHandWrittenFile) {
  const NpyArray a = lstmad::parse_npy(npy_file(1, kDict22, raw_f8(1.5) + raw_f8(-2.0) + raw_f8(3.0) + raw_f8(0.25)), "x.npy");
  EXPECT_EQ(a.descr, "<f8");
  EXPECT_EQ(a.rows(), 2u);
  EXPECT_EQ(a.cols(), 2u);
  EXPECT_EQ(a.data, (std::vector<double>{1.5, -2.0, 3.0, 0.25}));
  // Double quotes, extra spaces, no trailing comma, Python 2 longs: still the same literal grammar.
  const NpyArray b = lstmad::parse_npy(
      npy_file(1, "{\"shape\": ( 2L ,1L ),\"fortran_order\":False , \"descr\":\"<f8\"}", raw_f8(7) + raw_f8(8)), "y.npy");
  EXPECT_EQ(b.shape, (std::vector<size_t>{2, 1}));
  EXPECT_EQ(b.data, (std::vector<double>{7, 8}));
}

TEST(Npy, RoundTripsEveryVersionAndDtype) {
  lstmad::test::TempDir dir("npy");
  const std::vector<double> values = {0.1, -0.5, 1e-300, 3.25, -7.0, 1e10};
  for (int version : {1, 2, 3}) {
    for (NpyType type : {NpyType::Float64, NpyType::Float32}) {
      NpyWriteOptions o;
      o.version = version;
      o.type = type;
      const std::string path = dir.file("a" + std::to_string(version) + ".npy");
      lstmad::write_npy(path, values, 3, 2, o);
      const NpyArray a = lstmad::read_npy(path);
      ASSERT_EQ(a.shape, (std::vector<size_t>{3, 2}));
      EXPECT_EQ(a.descr, type == NpyType::Float64 ? "<f8" : "<f4");
      for (size_t i = 0; i < values.size(); ++i) {
        const double expect = type == NpyType::Float64 ? values[i] : static_cast<double>(static_cast<float>(values[i]));
        EXPECT_EQ(a.data[i], expect) << "version " << version << " index " << i;
      }
    }
  }
  NpyWriteOptions one;
  one.one_dimensional = true;
  lstmad::write_npy(dir.file("v.npy"), {1, 2, 3}, 3, 1, one);
  const NpyArray v = lstmad::read_npy(dir.file("v.npy"));
  EXPECT_EQ(v.shape, (std::vector<size_t>{3}));
  EXPECT_EQ(v.cols(), 1u);
  lstmad::write_npy(dir.file("empty.npy"), {}, 0, 4);
  EXPECT_EQ(lstmad::read_npy(dir.file("empty.npy")).rows(), 0u);
  EXPECT_THROW(lstmad::read_npy(dir.file("missing.npy")), lstmad::IoError);
}

TEST(Npy, FortranOrderOnlyWhereTheLayoutIsTheSame) {
  const std::string fortran22 = "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2), }";
  EXPECT_NE(message_of(npy_file(1, fortran22, std::string(32, '\0'))).find("Fortran"), std::string::npos);
  const std::string fortran1d = "{'descr': '<f8', 'fortran_order': True, 'shape': (2,), }";
  EXPECT_EQ(lstmad::parse_npy(npy_file(1, fortran1d, raw_f8(1) + raw_f8(2)), "f.npy").data,
            (std::vector<double>{1, 2}));
}

TEST(Npy, BadInputsAreDataErrorsNamingTheFile) {
  const std::string data32(32, '\0');
  auto with_descr = [&](const std::string& d) {
    return npy_file(1, "{'descr': '" + d + "', 'fortran_order': False, 'shape': (2, 2), }", data32);
  };
  EXPECT_NE(message_of("PK\x03\x04 not numpy").find("magic"), std::string::npos);
  EXPECT_NE(message_of(with_descr(">f8")).find("big-endian"), std::string::npos);
  EXPECT_NE(message_of(with_descr("<i8")).find("unsupported dtype '<i8'"), std::string::npos);
  EXPECT_NE(message_of(with_descr("|b1")).find("unsupported dtype"), std::string::npos);
  EXPECT_NE(message_of(with_descr("<c16")).find("unsupported dtype"), std::string::npos);
  std::string v4 = npy_file(1, kDict22, data32);
  v4[6] = 4;
  EXPECT_NE(message_of(v4).find("version 4.0"), std::string::npos);
  // Truncated data, trailing data, truncated header.
  EXPECT_NE(message_of(npy_file(1, kDict22, std::string(31, '\0'))).find("truncated data"), std::string::npos);
  EXPECT_NE(message_of(npy_file(1, kDict22, std::string(40, '\0'))).find("after the array"), std::string::npos);
  EXPECT_NE(message_of(npy_file(1, kDict22, data32).substr(0, 60)).find("truncated .npy header"),
            std::string::npos);
  // Ranks other than 1 and 2.
  EXPECT_NE(message_of(npy_file(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (), }", raw_f8(1)))
                .find("rank 0"),
            std::string::npos);
  EXPECT_NE(message_of(npy_file(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1, 1), }", raw_f8(1)))
                .find("rank 3"),
            std::string::npos);
  // Header syntax: missing key, extra key, garbage, structured dtype, wrong value types.
  EXPECT_NE(message_of(npy_file(1, "{'descr': '<f8', 'shape': (2, 2), }", data32)).find("fortran_order"),
            std::string::npos);
  EXPECT_NE(message_of(npy_file(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), 'x': 'y'}", data32))
                .find("keys other"),
            std::string::npos);
  EXPECT_NE(message_of(npy_file(1, "not a dict", data32)).find("bad .npy header"), std::string::npos);
  EXPECT_NE(message_of(npy_file(1, "{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (2,), }", data32))
                .find("structured"),
            std::string::npos);
  EXPECT_NE(message_of(npy_file(1, "{'descr': '<f8', 'fortran_order': 0, 'shape': (2, 2), }", data32))
                .find("bad .npy header"),
            std::string::npos);
  EXPECT_NE(message_of(npy_file(1, "{'descr': '<f8', 'fortran_order': False, 'shape': '2', }", data32))
                .find("shape a tuple"),
            std::string::npos);
  // The file name leads the message.
  EXPECT_EQ(message_of(with_descr("<i4")).rfind("chan/X-1.npy", 0), 0u);
}
