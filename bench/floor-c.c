/*
 * The machine's own floor under the trickle: what the Node.js floor (bench/floor-reader.mjs) does,
 * in C, so the two can be told apart: wait for the pipe with epoll, gather for 2 ms (reading
 * stopped), read everything in the pipe, write it with one write(2) and (unless `nosync`)
 * fdatasync it. One thread, no timers but the 2 ms sleep, no allocation per burst.
 *
 * Built by bench/trickle.mjs with `cc -O2` when a C compiler is present.
 * Usage: floor-c PIPE OUT [sync|nosync]   (stops on SIGTERM, after writing what it read)
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE (1 << 20)

static volatile sig_atomic_t stopping = 0;
static void on_term(int sig) { (void)sig; stopping = 1; }

static void write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      perror("write");
      exit(1);
    }
    p += w;
    n -= (size_t)w;
  }
}

/* Everything in the pipe now, appended to buf; returns the new fill. */
static size_t drain(int fd, char *buf, size_t fill) {
  while (fill < BUF_SIZE) {
    ssize_t n = read(fd, buf + fill, BUF_SIZE - fill);
    if (n <= 0) break; /* EAGAIN: empty (we hold a write end, so never EOF) */
    fill += (size_t)n;
  }
  return fill;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s PIPE OUT [sync|nosync]\n", argv[0]);
    return 2;
  }
  int sync = !(argc > 3 && strcmp(argv[3], "nosync") == 0);
  int in = open(argv[1], O_RDWR | O_NONBLOCK);
  int out = open(argv[2], O_WRONLY | O_APPEND | O_CREAT, 0600);
  if (in < 0 || out < 0) {
    perror("open");
    return 1;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_term; /* no SA_RESTART: epoll_wait returns EINTR */
  sigaction(SIGTERM, &sa, NULL);
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = in};
  if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, in, &ev) < 0) {
    perror("epoll");
    return 1;
  }
  char *buf = malloc(BUF_SIZE);
  const struct timespec gather = {0, 2 * 1000 * 1000};
  while (!stopping) {
    struct epoll_event got;
    int n = epoll_wait(ep, &got, 1, -1);
    if (n <= 0) continue;
    nanosleep(&gather, NULL);
    size_t fill = drain(in, buf, 0);
    if (fill == 0) continue;
    write_all(out, buf, fill);
    if (sync && fdatasync(out) < 0) {
      perror("fdatasync");
      return 1;
    }
  }
  size_t fill = drain(in, buf, 0);
  write_all(out, buf, fill);
  close(out);
  return 0;
}
