package gateway

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/ssogate/ssogate/internal/config"
	"github.com/ssogate/ssogate/internal/store/embedded"
	"github.com/ssogate/ssogate/internal/store/redisstore"
)

// openStore opens the backend named by store.driver.
func openStore(ctx context.Context, cfg config.Config, logger *slog.Logger) (Backend, error) {
	switch cfg.Store.Driver {
	case config.DriverEmbedded:
		s, err := embedded.Open(cfg.Store.Path, embedded.Options{Logger: logger})
		if err != nil {
			return nil, fmt.Errorf("store.path: %w", err)
		}
		return s, nil
	case config.DriverRedis:
		s, err := redisstore.Open(ctx, redisstore.Options{
			Addrs:       cfg.Store.RedisAddrs,
			MasterName:  cfg.Store.RedisMaster,
			Password:    cfg.Store.RedisPassword,
			DB:          cfg.Store.RedisDB,
			Prefix:      cfg.Store.RedisPrefix,
			Timeout:     cfg.Store.Timeout,
			FlushDelay:  cfg.Store.RedisFlushDelay,
			Connections: cfg.Store.RedisConnections,
			Logger:      logger,
		})
		if err != nil {
			return nil, fmt.Errorf("store.redis_addrs: %w", err)
		}
		return s, nil
	}
	return nil, fmt.Errorf("store.driver: %q is not supported", cfg.Store.Driver)
}
