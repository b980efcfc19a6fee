CREATE TABLE "revision_changes" (
	"revision" bigint PRIMARY KEY NOT NULL,
	"advanced_from" bigint NOT NULL,
	"touched" text NOT NULL,
	"committed_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
