// Included (last) by the reference arithmetic files: every float product and sum rounds on its
// own, as in the scalar code of the formats' definition. GCC builds get -ffp-contract=off from
// CMakeLists.txt for the whole project (GCC's `#pragma GCC optimize` would also reset other
// options of the functions after it and stop inlining); clang takes this pragma.
#if defined(__clang__)
#pragma clang fp contract(off)
#endif
