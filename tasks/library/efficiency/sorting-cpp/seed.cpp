// Sorting: insertion sort.
#include <cstdio>
#include <vector>

int main() {
    int n;
    if (std::scanf("%d", &n) != 1) return 1;
    std::vector<long long> a(n);
    for (auto& v : a) std::scanf("%lld", &v);
    for (int i = 1; i < n; i++) {
        long long x = a[i];
        int j = i;
        while (j > 0 && a[j - 1] > x) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = x;
    }
    for (int i = 0; i < n; i++) std::printf(i + 1 < n ? "%lld " : "%lld", a[i]);
    std::printf("\n");
    return 0;
}
