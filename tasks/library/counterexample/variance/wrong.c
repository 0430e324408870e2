#include <stdio.h>

int main() {
    int n;
    scanf("%d", &n);
    double sum = 0, sumsq = 0;
    for (int i = 0; i < n; i++) {
        double x;
        scanf("%lf", &x);
        sum += x;
        sumsq += x * x;
    }
    double mean = sum / n;
    double var = sumsq / n - mean * mean;
    printf("%.6f\n", var);
    return 0;
}
